// The coordinator's side of the plugin contract, as far as this package
// uses it. The shapes follow @dmtcp/core's plugin SDK (src/plugin/index.ts
// there); they are restated here so that the bundled module needs nothing
// from the core at run time, which is how the core expects modules to be.

/** One process's record at a barrier. */
export interface BarrierRecord {
  /** 16 hex digits, as on the wire. */
  upid: string;
  payload: Buffer;
  /** What the process said in its HELLO; unused here, so left opaque. */
  hello?: unknown;
}

/** Replies: one per upid (missing upids get an empty reply), one for all, or none. */
export type BarrierPolicy = (records: BarrierRecord[]) => Map<string, Buffer> | Buffer | void;

/** A call a process made with dmtcp_coordinator_call(); only the payload is used here. */
export interface PluginCall {
  payload: Buffer;
}

/** Answers a call; throwing fails it (the caller gets DMTCP_NS_ERROR). */
export type CallHandler = (call: PluginCall) => Buffer | void;

export interface CoordinatorPlugin {
  readonly name: string;
  readonly policies?: Readonly<Record<string, BarrierPolicy>>;
  readonly calls?: Readonly<Record<string, CallHandler>>;
}

export function definePlugin<T extends CoordinatorPlugin>(plugin: T): T {
  return plugin;
}
