export { startCoordinator, AddressInUseError, type RunningCoordinator, type StartCoordinatorOptions } from './listen.ts';
export { Coordinator, parseHello, type CoordinatorOptions } from './coordinator.ts';
export {
  Round,
  resolveReplies,
  collectImages,
  BARRIER_SUSPENDED,
  BARRIER_WRITTEN,
  BARRIER_RESUMED,
  BARRIER_RESTART_CONNECTED,
  BARRIER_RESTART_DONE,
  type RoundKind,
  type ArriveResult,
  type WrittenImage,
} from './barriers.ts';
export { KvStore } from './kv.ts';
export { memoryPair } from './memory-pair.ts';
export { renderRestartScript, writeRestartScripts, defaultDmtcpCommand, RESTART_SCRIPT_NAME, type RestartScriptInfo } from './restart-script.ts';
export type * from './types.ts';
