// The coordinator's side of the plugin contract, as far as this package
// uses it (the shapes of @dmtcp/core's plugin SDK, src/plugin/index.ts).

/** One process's record at a barrier. */
export interface BarrierRecord {
  /** 16 hex digits, as on the wire. */
  upid: string;
  payload: Buffer;
  hello?: unknown;
}
