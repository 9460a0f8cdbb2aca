// The TypeScript plugin SDK: the shape of a plugin's coordinator module.
//
// A plugin package names its module in package.json ("dmtcp": { "coordinator":
// "dist/coordinator.js" }). When a process reports the plugin's library in its
// HELLO, the coordinator imports the module once and installs it:
//
//   export default definePlugin({
//     name: 'x',
//     policies: {
//       // every process called dmtcp_global_barrier("x:phase", ...)
//       'x:phase': (records) => Buffer.from(String(records.length)),
//     },
//   });
//
// definePlugin only adds type checking: a plain object works the same, so a
// module needs no import from the core at run time.
//
// Policies are synchronous and must not block: the coordinator serves every
// process of the computation from one thread.
import type { BarrierPolicy, BarrierRecord, HelloInfo } from '../types.ts';

export type { BarrierPolicy, BarrierRecord, HelloInfo };

/** One process's record at a plugin barrier. */
export type PluginRecord = BarrierRecord;

/** One reply for every process, a reply per upid, or nothing (empty replies). */
export type PluginReply = ReturnType<BarrierPolicy>;

/** Decides the replies of a barrier once every process has reached it. The
 *  records come in upid order. Throwing fails the checkpoint or restart. */
export type PluginPolicy = BarrierPolicy;

/** A frame a process sent outside any barrier (publish/subscribe and the like). */
export interface PluginRequest {
  /** The sender, or null for a connection that has not said HELLO. */
  upid: string | null;
  /** The frame's name field (a namespace, for the name service). */
  name: string;
  extra: number;
  payload: Buffer;
}

/** What goes back to the sender; the coordinator fills in the addressing. */
export interface PluginResponse {
  type: number;
  extra?: number;
  payload?: Buffer;
}

/** Answers one kind of frame. Throwing drops the frame with a log line. */
export type RequestHandler = (req: PluginRequest) => PluginResponse | void;

/** A call a process made with dmtcp_coordinator_call(). */
export interface PluginCall {
  /** The caller, or null when it is not (or no longer) a process of the computation. */
  upid: string | null;
  /** What the caller told the coordinator about itself, when known. */
  hello: HelloInfo | null;
  payload: Buffer;
}

/** Answers a call; the Buffer goes back to the caller (nothing: an empty
 *  answer). Throwing fails the call (the caller gets DMTCP_NS_ERROR). */
export type CallHandler = (call: PluginCall) => Buffer | void;

/** When the coordinator forgets what processes told it: at the start of each
 *  checkpoint or restart round, and when the last process has gone. */
export type ResetScope = 'round' | 'computation';

export interface CoordinatorPlugin {
  /** The plugin's name as declared in its package.json. */
  readonly name: string;
  /** Barrier name ("<name>:<phase>") to policy. */
  readonly policies?: Readonly<Record<string, PluginPolicy>>;
  /** Frame type to handler, for frames the runtime sends outside barriers.
   *  Third-party plugins have no use for this: only the core runtime sends
   *  frames of its own. */
  readonly requests?: Readonly<Record<number, RequestHandler>>;
  /** Call name ("<name>:<what>") to handler, for dmtcp_coordinator_call(). */
  readonly calls?: Readonly<Record<string, CallHandler>>;
  /** A process left the computation (exited, was killed, or lost its connection). */
  readonly processLeft?: (upid: string, hello: HelloInfo) => void;
  readonly reset?: (scope: ResetScope) => void;
}

/** Identity, for type checking and editor help in a plugin's module. */
export function definePlugin<T extends CoordinatorPlugin>(plugin: T): T {
  return plugin;
}

/** Checks what a module's default export looks like before the coordinator
 *  trusts it; returns a one-line reason when it is not a plugin. */
export function coordinatorPluginProblem(value: unknown): string | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return 'its default export is not an object (export default definePlugin({ name, policies }))';
  }
  const v = value as Record<string, unknown>;
  if (typeof v['name'] !== 'string' || v['name'] === '') return 'its default export has no "name"';
  const policies = v['policies'];
  if (policies !== undefined) {
    if (typeof policies !== 'object' || policies === null || Array.isArray(policies)) return '"policies" is not an object';
    for (const [k, fn] of Object.entries(policies)) {
      if (typeof fn !== 'function') return `policy "${k}" is not a function`;
    }
  }
  const requests = v['requests'];
  if (requests !== undefined) {
    if (typeof requests !== 'object' || requests === null || Array.isArray(requests)) return '"requests" is not an object';
    for (const [k, fn] of Object.entries(requests)) {
      if (!/^\d+$/.test(k)) return `request key "${k}" is not a frame type`;
      if (typeof fn !== 'function') return `request handler ${k} is not a function`;
    }
  }
  const calls = v['calls'];
  if (calls !== undefined) {
    if (typeof calls !== 'object' || calls === null || Array.isArray(calls)) return '"calls" is not an object';
    for (const [k, fn] of Object.entries(calls)) {
      if (typeof fn !== 'function') return `call "${k}" is not a function`;
    }
  }
  for (const hook of ['reset', 'processLeft']) {
    if (v[hook] !== undefined && typeof v[hook] !== 'function') return `"${hook}" is not a function`;
  }
  return null;
}

export { assignCreators, compareUpid, type Assignment, type Holding } from './sharing.ts';
