// Helpers for end-to-end tests of dmtcp and its plugins: compile fixtures,
// start coordinators, launch/checkpoint/kill/restart real processes, and wait
// on their output with timeouts that explain what was going on.
//
// Call cleanup() from afterEach: it kills every process and coordinator the
// test started and removes its tmp dirs.
import { killAll } from './proc.ts';
import { removeTmpDirs } from './paths.ts';

export { Proc, liveProcs, killAll, formatStatus } from './proc.ts';
export type { ExitStatus, LineMatch, WaitOptions, SpawnOptions } from './proc.ts';
export { compileFixture, fixtureBuildDir } from './compile.ts';
export { corePackageRoot, cliPath, cliArgv, coreFixture, makeTmpDir } from './paths.ts';
export { NOBODY, userArgv, effectiveUid, resolveUser } from './user.ts';
export type { RunAs, UserIds } from './user.ts';
export {
  childEnv, startCli, runCli, parseJsonOutput, startCoordinator, launch, restart, command, checkpoint,
  checkpointImages, status, waitForProcesses, kill9, images, inspectImage, IMAGE_RE,
} from './dmtcp.ts';
export type {
  Json, JsonObject, CoordinatorRef, Coordinator, CliOptions, CliResult, StartCoordinatorOptions,
  LaunchOptions, RestartOptions, StatusReply, CheckpointResult,
} from './dmtcp.ts';
export { sequenceValues, assertConsecutive, waitForValueAbove, checkpointKillRestart } from './sequence.ts';
export type { CycleResult, CycleOptions } from './sequence.ts';

/** Kill everything the test started (targets, restarts, coordinators, CLI runs) and remove its tmp dirs. */
export async function cleanup(): Promise<void> {
  await killAll();
  await removeTmpDirs();
}
