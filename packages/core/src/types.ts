// Shapes shared by the coordinator, its plugin policies, the protocol client
// and the CLI. They sit below every module that uses them so that none of
// those has to import upward.

export type HelloKind = 'launch' | 'fork' | 'exec' | 'restart';

/** What a process told the coordinator about itself in its HELLO (and later
 *  UPDATE) frames. Upids are 16-hex-digit strings, as on the wire. */
export interface HelloInfo {
  kind: HelloKind;
  upid: string;
  pid: number;
  ppid: number;
  host: string;
  prog: string;
  argv: string[];
  ckptdir: string;
  plugins: string[];
  parentUpid: string | null;
  /** Processes in the computation when the image was written (RESTART only). */
  numPeers: number;
  image: string | null;
  interval: number;
  /** The JSON object as sent, merged with every UPDATE since: plugin fields live here. */
  fields: Record<string, unknown>;
}

export interface BarrierRecord {
  upid: string;
  payload: Buffer;
  hello: HelloInfo;
}

/** Decides the replies of a barrier when every participant has reached it: a
 *  map from upid to reply (missing upids get an empty reply), one Buffer for
 *  everyone, or nothing (empty replies). Throwing fails the round. */
export type BarrierPolicy = (records: BarrierRecord[]) => Map<string, Buffer> | Buffer | void;

export type UserCommand =
  | { cmd: 'status' }
  | { cmd: 'checkpoint' }
  | { cmd: 'kill' }
  | { cmd: 'quit' }
  | { cmd: 'interval'; seconds: number };

export type ProcessState = 'running' | 'checkpointing' | 'restarting';

export interface ProcessStatus {
  upid: string;
  pid: number;
  host: string;
  prog: string;
  state: ProcessState;
}

export interface ErrorReply {
  ok: false;
  error: string;
  /** kill/quit: processes still connected when the wait gave up. */
  remaining?: number;
  /** checkpoint: the round that failed. */
  generation?: number;
  /** checkpoint: descriptors that would not have been restored. */
  warnings?: string[];
}

export interface StatusReply {
  ok: true;
  num_processes: number;
  running: boolean;
  generation: number;
  comp_id: string | null;
  interval: number;
  coordinator: { host: string; port: number };
  processes: ProcessStatus[];
}

export interface CheckpointReply {
  ok: true;
  generation: number;
  images: string[];
  elapsed_ms: number;
  /** Restart scripts written for this checkpoint. */
  scripts: string[];
  /** Descriptors that will not be restored, one line per process. */
  warnings?: string[];
}

export interface KillReply {
  ok: true;
  killed: number;
}

export interface IntervalReply {
  ok: true;
  interval: number;
}

export type UserReply = StatusReply | CheckpointReply | KillReply | IntervalReply | ErrorReply;

/** The reply a given command can produce. */
export type ReplyFor<C extends UserCommand> = ErrorReply
  | (C extends { cmd: 'status' } ? StatusReply
    : C extends { cmd: 'checkpoint' } ? CheckpointReply
    : C extends { cmd: 'kill' | 'quit' } ? KillReply
    : C extends { cmd: 'interval' } ? IntervalReply
    : never);
