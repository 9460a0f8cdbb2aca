// The coordinator's side of the plugin contract, as far as this package
// uses it. The shapes follow @dmtcp/core's plugin SDK (src/plugin/index.ts
// there); restated so that the bundled module needs nothing from the core at
// run time.

/** One process's record at a barrier. */
export interface BarrierRecord {
  /** 16 hex digits, as on the wire. */
  upid: string;
  payload: Buffer;
  hello?: unknown;
}

/** Replies: one per upid (missing upids get an empty reply), one for all, or none. */
export type BarrierPolicy = (records: BarrierRecord[]) => Map<string, Buffer> | Buffer | void;

export interface CoordinatorPlugin {
  readonly name: string;
  readonly policies?: Readonly<Record<string, BarrierPolicy>>;
}

export function definePlugin(p: CoordinatorPlugin): CoordinatorPlugin {
  return p;
}
