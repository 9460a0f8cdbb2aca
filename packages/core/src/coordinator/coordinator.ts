// The coordinator: knows every process of one computation, runs checkpoint and
// restart rounds as sequences of barriers, answers user commands. It works on
// any Duplex (TCP socket, in-memory pair); listen.ts adds the server.
//
// Everything is driven by incoming frames and socket events; the only timers
// are the checkpoint interval and the give-up deadline of kill.
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import {
  DMT_ACCEPT,
  DMT_BARRIER,
  DMT_BARRIER_RELEASED,
  DMT_DO_CHECKPOINT,
  DMT_HELLO,
  DMT_KILL,
  DMT_PLUGIN_CALL,
  DMT_PLUGIN_RESULT,
  DMT_REJECT,
  DMT_ROUND_FAILED,
  DMT_UPDATE,
  DMT_USER_CMD,
  DMT_USER_REPLY,
  DMTCP_CALL_FAILED,
  DMTCP_CALL_OK,
  DMTCP_CALL_UNKNOWN,
  DMTCP_DEFAULT_COORD_PORT,
  DMTCP_HELLO_EXEC,
  DMTCP_HELLO_FORK,
  DMTCP_HELLO_LAUNCH,
  DMTCP_HELLO_RESTART,
} from '../generated/constants.ts';
import { encodeFrame, FrameDecoder, type Frame, hex64, jsonPayload, parseHex64, parseJsonPayload } from '../protocol/codec.ts';
import { BARRIER_RESUMED, BARRIER_SUSPENDED, BARRIER_WRITTEN, resolveReplies, Round, type WrittenImage } from './barriers.ts';
import { decideFds } from './fd-kinds.ts';
import { resumedProblem, writtenOutcome } from './round-outcome.ts';
import { findPluginPackage } from '../plugin/discover.ts';
import { KvStore, nameService, type NameService } from './kv.ts';
import { dmtcp5Kvdb } from './dmtcp5-kvdb.ts';
import type { CallHandler, CoordinatorPlugin, PluginResponse, ResetScope } from '../plugin/index.ts';
import { loadCoordinatorModule } from '../plugin/modules.ts';
import { defaultDmtcpCommand, renderRestartScript, writeRestartScripts } from './restart-script.ts';
import type {
  BarrierPolicy,
  BarrierRecord,
  CheckpointReply,
  ErrorReply,
  HelloInfo,
  HelloKind,
  ProcessStatus,
  StatusReply,
  UserReply,
} from './types.ts';

export interface CoordinatorOptions {
  /** Where this coordinator can be reached; goes into status and restart scripts. */
  host?: string;
  port?: number;
  /** Images go here instead of each process's own directory. */
  ckptDir?: string;
  exitOnLast?: boolean;
  /** Seconds between automatic checkpoints; 0 = off. */
  interval?: number;
  log?: (line: string) => void;
  /** argv prefix for `dmtcp` in restart scripts; default: this CLI. */
  dmtcpCommand?: string[];
  /** How long kill/quit wait for processes to go. */
  killTimeoutMs?: number;
  policies?: Iterable<[string, BarrierPolicy]>;
  /** Finds the coordinator module of a plugin library that a process
   *  reported; null turns loading off. Default: the module its package
   *  declares (see plugin/modules.ts). */
  moduleLoader?: ((lib: string) => Promise<CoordinatorPlugin | null>) | null;
  /** The descriptor kinds a plugin library restores. Default: the "fds"
   *  its package declares; none for a library without a package. */
  fdKinds?: (lib: string) => readonly string[];
}

function defaultFdKinds(lib: string): readonly string[] {
  try {
    return findPluginPackage(lib)?.manifest.fds ?? [];
  } catch {
    return [];
  }
}

/** Frame types the coordinator handles itself; plugins cannot take them. */
const CORE_FRAME_TYPES = new Set([DMT_HELLO, DMT_BARRIER, DMT_UPDATE, DMT_USER_CMD, DMT_PLUGIN_CALL, DMT_PLUGIN_RESULT]);

/** The core's own barriers: no plugin module can hold their policy. */
function isCoreBarrier(name: string): boolean {
  return name.startsWith('ckpt:') || name.startsWith('restart:');
}

async function defaultModuleLoader(lib: string): Promise<CoordinatorPlugin | null> {
  return (await loadCoordinatorModule(lib))?.plugin ?? null;
}

const KIND_NAMES: Record<number, HelloKind> = {
  [DMTCP_HELLO_LAUNCH]: 'launch',
  [DMTCP_HELLO_FORK]: 'fork',
  [DMTCP_HELLO_EXEC]: 'exec',
  [DMTCP_HELLO_RESTART]: 'restart',
};

type Role = 'new' | 'worker' | 'deferred' | 'command' | 'closed';

interface Conn {
  id: number;
  socket: Duplex;
  decoder: FrameDecoder;
  role: Role;
  worker: Worker | null;
  /** The HELLO held back until the active round ends. */
  deferredHello: Frame | null;
}

interface Worker {
  upid: bigint;
  key: string;
  info: HelloInfo;
  conn: Conn;
}

type Waiter = (reply: UserReply) => void;

interface ActiveRound {
  core: Round;
  startedAt: bigint;
  waiters: Waiter[];
  images: WrittenImage[];
  /** Barriers ready to release but held until plugin modules being loaded
   *  have installed their policies. */
  held: Set<string>;
  /** Descriptors that will not be restored, one line per process. */
  warnings: string[];
  /** Set at ckpt:resumed when an image could not be renamed. */
  incomplete: string | null;
}

interface KillWait {
  reply: Waiter;
  timer: NodeJS.Timeout;
  killed: number;
}

/** Thrown for HELLOs that cannot be admitted; the message goes into REJECT. */
class Rejection extends Error {}

function str(v: unknown, fallback = ''): string {
  return typeof v === 'string' ? v : fallback;
}

function int(v: unknown, fallback = 0): number {
  return typeof v === 'number' && Number.isFinite(v) ? Math.trunc(v) : fallback;
}

function strList(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

function describe(info: HelloInfo): string {
  return `${info.prog} (pid ${info.pid})`;
}

export function parseHello(frame: Frame): HelloInfo {
  const kind = KIND_NAMES[frame.extra];
  if (!kind) throw new Rejection(`unknown hello kind ${frame.extra}`);
  let obj: unknown;
  try {
    obj = parseJsonPayload(frame);
  } catch (e) {
    throw new Rejection((e as Error).message);
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) throw new Rejection('hello payload is not a JSON object');
  const f = obj as Record<string, unknown>;
  if (typeof f.pid !== 'number') throw new Rejection('hello payload lacks "pid"');
  if (typeof f.prog !== 'string') throw new Rejection('hello payload lacks "prog"');
  const parent = parseHex64(f.parent_upid);
  return {
    kind,
    upid: hex64(frame.upid),
    pid: int(f.pid),
    ppid: int(f.ppid),
    host: str(f.host),
    prog: f.prog,
    argv: strList(f.argv),
    ckptdir: str(f.ckptdir),
    plugins: strList(f.plugins),
    parentUpid: parent === null ? null : hex64(parent),
    numPeers: Math.max(0, int(f.num_peers)),
    image: typeof f.image === 'string' ? f.image : null,
    interval: Math.max(0, int(f.interval)),
    fields: f,
  };
}

function randomCompId(): bigint {
  for (;;) {
    const v = randomBytes(8).readBigUInt64LE(0);
    if (v !== 0n) return v;
  }
}

export class Coordinator {
  private readonly log: (line: string) => void;
  private readonly policies = new Map<string, BarrierPolicy>();
  private readonly conns = new Set<Conn>();
  private readonly workers = new Map<string, Worker>();
  private readonly plugins = new Map<string, CoordinatorPlugin>();
  private readonly callHandlers = new Map<string, { plugin: string; handle: CallHandler }>();
  private readonly requestHandlers = new Map<number, { plugin: string; handle: NonNullable<CoordinatorPlugin['requests']>[number] }>();
  private readonly kv: NameService = nameService();
  private readonly moduleLoader: ((lib: string) => Promise<CoordinatorPlugin | null>) | null;
  /** Libraries whose module was looked for (each only once). */
  private readonly seenLibs = new Set<string>();
  private readonly moduleLoads = new Set<Promise<void>>();
  private readonly fdKinds: (lib: string) => readonly string[];
  private readonly fdKindsCache = new Map<string, readonly string[]>();
  private nextConnId = 1;

  private host: string;
  private port: number;
  private readonly ckptDir: string | undefined;
  private readonly exitOnLast: boolean;
  private readonly dmtcpCommand: string[];
  private readonly killTimeoutMs: number;

  private compId: bigint | null = null;
  private generation = 0n;
  private maxUpid = 0n;
  private interval: number;
  private intervalTimer: NodeJS.Timeout | null = null;

  private round: ActiveRound | null = null;
  /** Checkpoint requests that must wait for the round after the active one. */
  private nextWaiters: Waiter[] = [];
  private deferred: Conn[] = [];
  private killWaits: KillWait[] = [];
  private everConnected = false;
  /** Restart scripts are written one round at a time so an older round can
   *  never overwrite a newer script. */
  private scriptChain: Promise<void> = Promise.resolve();

  private stopping = false;
  private resolveStopped!: () => void;
  private resolveStopRequested!: () => void;
  /** Resolves as soon as the coordinator begins to stop. */
  readonly stopRequested: Promise<void>;
  /** Resolves once the coordinator has stopped (quit, exit-on-last, stop()). */
  readonly stopped: Promise<void>;

  constructor(opts: CoordinatorOptions = {}) {
    this.log = opts.log ?? (() => {});
    this.host = opts.host ?? '127.0.0.1';
    this.port = opts.port ?? DMTCP_DEFAULT_COORD_PORT;
    this.ckptDir = opts.ckptDir ? path.resolve(opts.ckptDir) : undefined;
    this.exitOnLast = opts.exitOnLast ?? false;
    this.dmtcpCommand = opts.dmtcpCommand ?? defaultDmtcpCommand();
    this.killTimeoutMs = opts.killTimeoutMs ?? 5000;
    this.interval = Math.max(0, opts.interval ?? 0);
    this.moduleLoader = opts.moduleLoader === undefined ? defaultModuleLoader : opts.moduleLoader;
    this.fdKinds = opts.fdKinds ?? defaultFdKinds;
    this.use(this.kv);
    this.use(dmtcp5Kvdb());
    for (const [name, fn] of opts.policies ?? []) this.registerPolicy(name, fn);
    this.scheduleInterval();
    this.stopped = new Promise((resolve) => {
      this.resolveStopped = resolve;
    });
    this.stopRequested = new Promise((resolve) => {
      this.resolveStopRequested = resolve;
    });
  }

  /** Installs the release policy of a barrier; returns a function that removes it. */
  registerPolicy(name: string, fn: BarrierPolicy): () => void {
    this.policies.set(name, fn);
    return () => {
      if (this.policies.get(name) === fn) this.policies.delete(name);
    };
  }

  /** Installs a plugin's coordinator half: its barrier policies and the
   *  frames it answers. Throws, installing nothing, when its name, a
   *  policy or a frame type is already taken. Returns a function that
   *  removes it. */
  use(plugin: CoordinatorPlugin): () => void {
    if (this.plugins.has(plugin.name)) throw new Error(`plugin ${plugin.name} is already installed`);
    const policies = Object.entries(plugin.policies ?? {});
    for (const [name] of policies) {
      if (this.policies.has(name)) throw new Error(`barrier "${name}" already has a policy`);
    }
    const requests = Object.entries(plugin.requests ?? {}).map(([t, handle]) => [Number(t), handle] as const);
    for (const [type] of requests) {
      if (CORE_FRAME_TYPES.has(type)) throw new Error(`frame type ${type} belongs to the coordinator`);
      const owner = this.requestHandlers.get(type);
      if (owner) throw new Error(`frame type ${type} is already handled by plugin ${owner.plugin}`);
    }
    const calls = Object.entries(plugin.calls ?? {});
    for (const [name] of calls) {
      const owner = this.callHandlers.get(name);
      if (owner) throw new Error(`call "${name}" is already answered by plugin ${owner.plugin}`);
    }
    this.plugins.set(plugin.name, plugin);
    const removers = policies.map(([name, fn]) => this.registerPolicy(name, fn));
    for (const [name, handle] of calls) this.callHandlers.set(name, { plugin: plugin.name, handle });
    for (const [type, handle] of requests) this.requestHandlers.set(type, { plugin: plugin.name, handle });
    return () => {
      if (this.plugins.get(plugin.name) !== plugin) return;
      this.plugins.delete(plugin.name);
      for (const r of removers) r();
      for (const [type] of requests) {
        if (this.requestHandlers.get(type)?.plugin === plugin.name) this.requestHandlers.delete(type);
      }
      for (const [name] of calls) {
        if (this.callHandlers.get(name)?.plugin === plugin.name) this.callHandlers.delete(name);
      }
    };
  }

  /** The name service, for policies that read what processes published. */
  get names(): KvStore {
    return this.kv.store;
  }

  private resetPlugins(scope: ResetScope): void {
    for (const p of this.plugins.values()) {
      try {
        p.reset?.(scope);
      } catch (e) {
        this.log(`plugin ${p.name}: reset failed: ${(e as Error).message}`);
      }
    }
  }

  /** Looks for the coordinator modules of the libraries a process reported,
   *  each library once. Barriers released meanwhile wait for the loads. */
  private loadPluginModules(libs: readonly string[]): void {
    const loader = this.moduleLoader;
    if (!loader) return;
    for (const lib of libs) {
      if (this.seenLibs.has(lib)) continue;
      this.seenLibs.add(lib);
      const load: Promise<void> = (async () => {
        let plugin: CoordinatorPlugin | null;
        try {
          plugin = await loader(lib);
        } catch (e) {
          this.log(`plugin library ${lib}: coordinator module not loaded: ${(e as Error).message}; its barriers release with empty replies`);
          return;
        }
        if (!plugin || this.stopping) return;
        if (this.plugins.get(plugin.name) === plugin) return; // two libraries of one package
        try {
          this.use(plugin);
        } catch (e) {
          this.log(`plugin ${plugin.name}: coordinator module not installed: ${(e as Error).message}`);
          return;
        }
        const n = Object.keys(plugin.policies ?? {}).length;
        this.log(`plugin ${plugin.name}: coordinator module loaded (${n} ${n === 1 ? 'policy' : 'policies'})`);
      })().finally(() => {
        this.moduleLoads.delete(load);
        if (this.moduleLoads.size === 0) this.releaseHeld();
      });
      this.moduleLoads.add(load);
    }
  }

  private releaseHeld(): void {
    const r = this.round;
    if (!r) return;
    for (const name of [...r.held]) {
      r.held.delete(name);
      if (this.round !== r) return;
      if (!r.core.hasReleased(name) && r.core.isReady(name)) this.release(r, name);
    }
  }

  setAddress(host: string, port: number): void {
    this.host = host;
    this.port = port;
  }

  get numProcesses(): number {
    return this.workers.size;
  }

  /** Serves one connection: a process of the computation or a user command. */
  handle(socket: Duplex): void {
    const conn: Conn = { id: this.nextConnId++, socket, decoder: new FrameDecoder(), role: 'new', worker: null, deferredHello: null };
    if (this.stopping) {
      socket.destroy();
      return;
    }
    const maybeTcp = socket as Duplex & { setNoDelay?: (v: boolean) => void };
    if (typeof maybeTcp.setNoDelay === 'function') maybeTcp.setNoDelay(true);
    this.conns.add(conn);
    socket.on('data', (chunk: Buffer | string) => {
      if (conn.role === 'closed' || this.stopping) return;
      let frames: Frame[];
      try {
        frames = conn.decoder.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
      } catch (e) {
        this.log(`connection ${conn.id}: ${(e as Error).message}; closing it`);
        this.drop(conn);
        socket.destroy();
        return;
      }
      for (const f of frames) {
        // dispatch may have closed it: re-read the role, not the narrowed type.
        if ((conn.role as Role) === 'closed' || this.stopping) break;
        this.dispatch(conn, f);
      }
    });
    socket.on('end', () => {
      this.drop(conn);
      socket.end();
    });
    socket.on('close', () => this.drop(conn));
    socket.on('error', (e: Error) => {
      // A worker killed mid-write shows up as ECONNRESET: that is just a leave.
      if ((e as NodeJS.ErrnoException).code !== 'ECONNRESET') this.log(`connection ${conn.id}: ${e.message}`);
      this.drop(conn);
    });
  }

  private send(conn: Conn, frame: Buffer): void {
    if (conn.role === 'closed' || conn.socket.destroyed || !conn.socket.writable) return;
    conn.socket.write(frame);
  }

  private dispatch(conn: Conn, f: Frame): void {
    switch (f.type) {
      case DMT_HELLO:
        return this.onHello(conn, f);
      case DMT_BARRIER:
        return this.onBarrier(conn, f);
      case DMT_UPDATE:
        return this.onUpdate(conn, f);
      case DMT_USER_CMD:
        return this.onUserCommand(conn, f);
      case DMT_PLUGIN_CALL:
        return this.onPluginCall(conn, f);
      default:
        return this.onPluginRequest(conn, f);
    }
  }

  /** A call may arrive before the module of the caller's plugin is loaded
   *  (the first thing a plugin does after its process said HELLO). */
  private onPluginCall(conn: Conn, f: Frame): void {
    const answer = (extra: number, payload?: Buffer): void => {
      this.send(conn, encodeFrame({ type: DMT_PLUGIN_RESULT, name: f.name, extra, upid: f.upid, compId: this.compId ?? 0n, generation: this.generation, payload }));
    };
    const h = this.callHandlers.get(f.name);
    if (!h) {
      if (this.moduleLoads.size > 0) {
        void Promise.allSettled([...this.moduleLoads]).then(() => {
          if ((conn.role as Role) !== 'closed' && !this.stopping) this.onPluginCall(conn, f);
        });
        return;
      }
      answer(DMTCP_CALL_UNKNOWN);
      return;
    }
    const worker = this.workers.get(hex64(f.upid)) ?? null;
    try {
      answer(DMTCP_CALL_OK, h.handle({ upid: worker?.key ?? null, hello: worker?.info ?? null, payload: f.payload }) ?? undefined);
    } catch (e) {
      const msg = (e as Error).message;
      this.log(`plugin ${h.plugin}: call ${f.name} failed: ${msg}`);
      answer(DMTCP_CALL_FAILED, Buffer.from(msg));
    }
  }

  private onPluginRequest(conn: Conn, f: Frame): void {
    const h = this.requestHandlers.get(f.type);
    if (!h) {
      this.log(`connection ${conn.id}: unexpected frame type ${f.type}; ignored`);
      return;
    }
    let res: PluginResponse | void;
    try {
      res = h.handle({ upid: conn.worker?.key ?? null, name: f.name, extra: f.extra, payload: f.payload });
    } catch (e) {
      this.log(`connection ${conn.id}: ${(e as Error).message}; ignored`);
      return;
    }
    if (!res) return;
    this.send(conn, encodeFrame({
      type: res.type,
      name: f.name,
      extra: res.extra ?? 0,
      upid: conn.worker?.upid ?? 0n,
      compId: this.compId ?? 0n,
      generation: this.generation,
      payload: res.payload,
    }));
  }

  // ---- processes -------------------------------------------------------

  private onHello(conn: Conn, f: Frame): void {
    if (conn.role === 'deferred') {
      this.log(`connection ${conn.id}: second hello while the first waits for the round to end; ignored`);
      return;
    }
    let info: HelloInfo;
    try {
      info = parseHello(f);
      if (this.killWaits.length > 0) {
        // A process appearing while we kill the computation belongs to it.
        this.send(conn, encodeFrame({ type: DMT_KILL }));
        if (!conn.worker) {
          conn.role = 'deferred';
          conn.deferredHello = null;
          this.deferred.push(conn);
        }
        return;
      }
      if (conn.worker) {
        if (info.kind !== 'exec') throw new Rejection(`upid ${conn.worker.key} is already registered on this connection`);
        this.onExec(conn.worker, info);
        return;
      }
      this.admit(conn, f, info);
    } catch (e) {
      if (!(e instanceof Rejection)) throw e;
      this.log(`rejected connection ${conn.id}: ${e.message}`);
      this.send(conn, encodeFrame({ type: DMT_REJECT, payload: Buffer.from(e.message) }));
      if (!conn.worker) {
        conn.role = 'closed';
        this.conns.delete(conn);
        conn.socket.end();
      }
    }
  }

  private onExec(w: Worker, info: HelloInfo): void {
    this.loadPluginModules(info.plugins);
    const old = w.info;
    const fields = { ...old.fields, ...info.fields };
    w.info = { ...old, ...info, kind: 'exec', upid: w.key, fields };
    if (!('parent_upid' in info.fields)) w.info.parentUpid = old.parentUpid;
    const r = this.round;
    if (r?.core.has(w.key)) r.core.participants.set(w.key, w.info);
    this.log(`exec upid=${w.key} ${old.prog} -> ${describe(w.info)}`);
    this.send(w.conn, this.acceptFrame(w.upid, DMTCP_HELLO_EXEC));
    // The pre-exec image may have left DO_CHECKPOINT unread; the new image
    // needs it to take part.
    if (r && r.core.kind === 'checkpoint' && r.core.has(w.key) && !r.core.hasArrivedAnywhere(w.key)) {
      this.send(w.conn, this.doCheckpointFrame(w.upid, r.core));
    }
  }

  private admit(conn: Conn, f: Frame, info: HelloInfo): void {
    const isRestart = info.kind === 'restart';
    const hasProcesses = this.workers.size > 0 || this.deferred.length > 0;
    if (isRestart) {
      if (f.compId === 0n) throw new Rejection('restart hello without a computation id');
      if (f.upid === 0n) throw new Rejection('restart hello without a upid');
    }
    if (f.compId !== 0n && this.compId !== null && f.compId !== this.compId && hasProcesses) {
      throw new Rejection(`coordinator is busy with computation ${hex64(this.compId)}`);
    }
    if (f.upid !== 0n && this.workers.has(hex64(f.upid))) {
      const w = this.workers.get(hex64(f.upid))!;
      throw new Rejection(`upid ${hex64(f.upid)} is already connected as ${describe(w.info)}`);
    }

    const r = this.round;
    if (r) {
      const joins = r.core.joinable && (isRestart ? r.core.kind === 'restart' : r.core.kind === 'checkpoint');
      if (!joins) {
        this.log(`connection ${conn.id}: ${info.kind} hello from ${describe(info)} waits for the ${r.core.kind} round to end`);
        conn.role = 'deferred';
        conn.deferredHello = f;
        this.deferred.push(conn);
        return;
      }
      if (isRestart && f.generation !== r.core.generation) {
        throw new Rejection(`image of generation ${f.generation} cannot join the restart of generation ${r.core.generation}`);
      }
    }

    if (this.workers.size === 0 && (f.compId !== 0n || this.compId === null)) {
      // First process of a computation: adopt what a restarted process knew.
      this.compId = f.compId !== 0n ? f.compId : randomCompId();
      if (isRestart) this.generation = f.generation;
    }
    let upid = f.upid;
    if (upid === 0n) upid = ++this.maxUpid;
    else if (upid > this.maxUpid) this.maxUpid = upid;
    if (isRestart && f.generation > this.generation) this.generation = f.generation;

    this.loadPluginModules(info.plugins);
    const key = hex64(upid);
    info.upid = key;
    const w: Worker = { upid, key, info, conn };
    conn.role = 'worker';
    conn.worker = w;
    this.workers.set(key, w);
    this.everConnected = true;
    if (info.interval > 0 && this.interval === 0) this.setCheckpointInterval(info.interval);
    this.log(`join upid=${key} ${info.kind} ${describe(info)}${info.host ? ` on ${info.host}` : ''} (${this.workers.size} processes)`);
    this.send(conn, this.acceptFrame(upid, f.extra));

    if (r) {
      r.core.add(key, info);
      if (r.core.kind === 'checkpoint') this.send(conn, this.doCheckpointFrame(upid, r.core));
    } else if (isRestart) {
      this.startRestartRound(w);
    }
  }

  private acceptFrame(upid: bigint, kind: number): Buffer {
    return encodeFrame({ type: DMT_ACCEPT, extra: kind, upid, compId: this.compId ?? 0n, generation: this.generation });
  }

  private doCheckpointFrame(upid: bigint, core: Round): Buffer {
    return encodeFrame({
      type: DMT_DO_CHECKPOINT,
      generation: core.generation,
      extra: core.participants.size,
      upid,
      compId: this.compId ?? 0n,
    });
  }

  private onUpdate(conn: Conn, f: Frame): void {
    const w = conn.worker;
    if (!w) {
      this.log(`connection ${conn.id}: update before hello; ignored`);
      return;
    }
    let obj: unknown;
    try {
      obj = parseJsonPayload(f);
    } catch (e) {
      this.log(`upid ${w.key}: ${(e as Error).message}`);
      return;
    }
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) return;
    const u = obj as Record<string, unknown>;
    const info = w.info;
    const oldPid = info.pid;
    info.fields = { ...info.fields, ...u };
    if (typeof u.pid === 'number') info.pid = int(u.pid);
    if (typeof u.ppid === 'number') info.ppid = int(u.ppid);
    if (typeof u.host === 'string') info.host = u.host;
    if (typeof u.prog === 'string') info.prog = u.prog;
    if (Array.isArray(u.argv)) info.argv = strList(u.argv);
    if (typeof u.ckptdir === 'string') info.ckptdir = u.ckptdir;
    if (info.pid !== oldPid) this.log(`upid=${w.key} ${info.prog} is now pid ${info.pid}`);
  }

  /** Forgets a connection; for a process this is its leave. Idempotent. */
  private drop(conn: Conn): void {
    if (conn.role === 'closed') return;
    const wasRole = conn.role;
    conn.role = 'closed';
    this.conns.delete(conn);
    if (wasRole === 'deferred') {
      this.deferred = this.deferred.filter((c) => c !== conn);
    }
    const w = conn.worker;
    if (w && this.workers.get(w.key) === w) {
      this.workers.delete(w.key);
      this.log(`leave upid=${w.key} ${describe(w.info)} (${this.workers.size} processes)`);
      this.onWorkerLeft(w);
    }
    if (wasRole === 'worker' || wasRole === 'deferred') this.afterLeave();
  }

  private onWorkerLeft(w: Worker): void {
    for (const p of this.plugins.values()) {
      try {
        p.processLeft?.(w.key, w.info);
      } catch (e) {
        this.log(`plugin ${p.name}: processLeft failed: ${(e as Error).message}`);
      }
    }
    const r = this.round;
    if (!r || !r.core.has(w.key)) return;
    // A process that exits before it stopped for this round is simply not
    // part of it; one that leaves while its image is unfinished fails it.
    if (r.core.leaveIsFatal && r.core.hasArrivedAnywhere(w.key)) {
      r.core.remove(w.key);
      this.failRound(`${describe(w.info)} exited during the checkpoint`);
      return;
    }
    const ready = r.core.remove(w.key);
    if (r.core.participants.size === 0) {
      if (r.core.kind === 'checkpoint') this.failRound(`${describe(w.info)} exited during the checkpoint`);
      else this.endRestart(r, 'every restarted process is gone');
      return;
    }
    for (const name of ready) {
      if (this.round !== r) break;
      this.release(r, name);
    }
  }

  private afterLeave(): void {
    const remaining = this.workers.size + this.deferred.length;
    if (remaining === 0) {
      for (const k of this.killWaits.splice(0)) {
        clearTimeout(k.timer);
        k.reply({ ok: true, killed: k.killed });
      }
      if (!this.round) {
        // The computation is over; the next process starts a new one.
        this.compId = null;
        this.generation = 0n;
        this.maxUpid = 0n;
        this.resetPlugins('computation');
      }
      if (this.exitOnLast && this.everConnected && !this.stopping) {
        this.log('last process left; exiting');
        this.stop();
      }
    }
  }

  // ---- rounds -----------------------------------------------------------

  private requestCheckpoint(waiters: Waiter[]): void {
    const r = this.round;
    if (r) {
      if (r.core.kind === 'checkpoint' && r.core.joinable) r.waiters.push(...waiters);
      else this.nextWaiters.push(...waiters);
      return;
    }
    if (this.workers.size === 0) {
      for (const w of waiters) w({ ok: false, error: 'no processes to checkpoint' });
      return;
    }
    this.startCheckpoint(waiters);
  }

  private startCheckpoint(waiters: Waiter[]): void {
    this.clearIntervalTimer();
    this.generation += 1n;
    this.resetPlugins('round');
    const core = new Round('checkpoint', this.generation);
    for (const w of this.workers.values()) core.add(w.key, w.info);
    const r: ActiveRound = { core, startedAt: process.hrtime.bigint(), waiters, images: [], held: new Set(), warnings: [], incomplete: null };
    this.round = r;
    this.log(`checkpoint generation ${core.generation} started with ${core.participants.size} processes`);
    for (const w of this.workers.values()) this.send(w.conn, this.doCheckpointFrame(w.upid, core));
  }

  private startRestartRound(first: Worker): void {
    this.clearIntervalTimer();
    this.resetPlugins('round');
    const core = new Round('restart', this.generation);
    core.add(first.key, first.info);
    this.round = { core, startedAt: process.hrtime.bigint(), waiters: [], images: [], held: new Set(), warnings: [], incomplete: null };
    this.log(`restart of computation ${hex64(this.compId ?? 0n)} generation ${core.generation} started (${first.info.numPeers || '?'} processes expected)`);
  }

  private onBarrier(conn: Conn, f: Frame): void {
    const w = conn.worker;
    if (!w) {
      this.log(`connection ${conn.id}: barrier "${f.name}" before hello; ignored`);
      return;
    }
    const r = this.round;
    // A barrier sent just before the process saw ROUND_FAILED belongs to the
    // dead round, which the generation tells apart from the next one.
    if (!r || (f.generation !== 0n && f.generation !== r.core.generation)) {
      this.log(`upid=${w.key}: stale barrier "${f.name}" of generation ${f.generation}; ignored`);
      return;
    }
    const res = r.core.arrive(w.key, f.name, f.payload);
    if (!res.ok) {
      this.log(`upid=${w.key}: ${res.error}; ignored`);
      return;
    }
    if (res.ready) this.release(r, f.name);
  }

  private release(r: ActiveRound, name: string): void {
    const policy = this.policies.get(name);
    if (!policy && this.moduleLoads.size > 0 && !isCoreBarrier(name)) {
      // The module with this barrier's policy may be the one being loaded.
      r.held.add(name);
      return;
    }
    const records = r.core.release(name);
    let replies: Buffer | Map<string, Buffer>;
    try {
      // Upids are fixed-width hex, so string order is numeric order.
      const ordered = policy ? [...records].sort((a, b) => (a.upid < b.upid ? -1 : a.upid > b.upid ? 1 : 0)) : records;
      replies = resolveReplies(policy, ordered);
    } catch (e) {
      this.failRound(`the policy of barrier "${name}" failed: ${(e as Error).message}`);
      return;
    }
    if (r.core.kind === 'checkpoint') {
      if (name === BARRIER_SUSPENDED) {
        const notes = this.judgeDescriptors(r, records);
        if (notes === null) return;
        if (!policy) replies = notes;
      } else if (name === BARRIER_WRITTEN) {
        const outcome = writtenOutcome(records, (rec) => this.ckptDir || rec.hello.ckptdir || '/');
        for (const p of outcome.problems) this.log(p);
        if (!outcome.ok) {
          // Released to nobody: every process gets ROUND_FAILED instead and
          // deletes its temporary image; none replaces the previous one.
          this.failRound(outcome.reason);
          return;
        }
        r.images.push(...outcome.images);
      } else if (name === BARRIER_RESUMED) {
        r.incomplete = resumedProblem(records);
      }
    }
    const count = r.core.participants.size;
    const common = { type: DMT_BARRIER_RELEASED, name, generation: r.core.generation, extra: count, compId: this.compId ?? 0n };
    for (const rec of records) {
      const w = this.workers.get(rec.upid);
      if (!w) continue;
      const payload = Buffer.isBuffer(replies) ? replies : replies.get(rec.upid);
      this.send(w.conn, encodeFrame({ ...common, upid: w.upid, payload }));
    }
    if (name === r.core.lastBarrier) {
      if (r.core.kind === 'checkpoint') this.completeCheckpoint(r);
      else this.endRestart(r, null);
    }
  }

  /** Warns about the descriptors no loaded plugin restores; returns the
   *  note each process keeps for its restart, or null when a strict
   *  process refused the round (failed here). */
  private judgeDescriptors(r: ActiveRound, records: BarrierRecord[]): Map<string, Buffer> | null {
    const decision = decideFds(records.map((rec) => ({
      upid: rec.upid,
      label: describe(rec.hello),
      payload: rec.payload,
      handled: new Set(rec.hello.plugins.flatMap((lib) => this.fdKindsOf(lib))),
    })));
    for (const w of decision.warnings) {
      this.log(`warning: ${w.line}`);
      r.warnings.push(w.line);
    }
    if (decision.refusal) {
      this.failRound(decision.refusal);
      return null;
    }
    return new Map([...decision.notes].map(([upid, note]) => [upid, Buffer.from(note)]));
  }

  private fdKindsOf(lib: string): readonly string[] {
    let kinds = this.fdKindsCache.get(lib);
    if (!kinds) {
      kinds = this.fdKinds(lib);
      this.fdKindsCache.set(lib, kinds);
    }
    return kinds;
  }

  private elapsedMs(r: ActiveRound): number {
    return Number((process.hrtime.bigint() - r.startedAt) / 1000n) / 1000;
  }

  private failRound(reason: string): void {
    const r = this.round;
    if (!r) return;
    const frame = (upid: bigint) => encodeFrame({ type: DMT_ROUND_FAILED, generation: r.core.generation, upid, compId: this.compId ?? 0n, payload: Buffer.from(reason) });
    for (const key of r.core.participants.keys()) {
      const w = this.workers.get(key);
      if (w) this.send(w.conn, frame(w.upid));
    }
    this.log(`${r.core.kind} generation ${r.core.generation} failed after ${this.elapsedMs(r).toFixed(1)} ms: ${reason}`);
    const reply: ErrorReply = r.core.kind === 'checkpoint'
      ? { ok: false, error: reason, generation: Number(r.core.generation), warnings: r.warnings }
      : { ok: false, error: reason };
    for (const waiter of r.waiters) waiter(reply);
    this.endRound();
  }

  private completeCheckpoint(r: ActiveRound): void {
    const elapsed = this.elapsedMs(r);
    const generation = Number(r.core.generation);
    const images = [...r.images].sort((a, b) => (a.upid < b.upid ? -1 : a.upid > b.upid ? 1 : 0)).map((i) => i.image);
    const waiters = r.waiters;
    if (r.incomplete) {
      this.log(`checkpoint generation ${generation} ${r.incomplete}`);
      const reply: ErrorReply = { ok: false, error: r.incomplete, generation, warnings: r.warnings };
      this.endRound();
      for (const waiter of waiters) waiter(reply);
      return;
    }
    this.log(`checkpoint generation ${generation} done in ${elapsed.toFixed(1)} ms (${images.length} images)`);
    const warnings = r.warnings;
    const dirs = new Set(images.map((i) => path.dirname(i)));
    if (this.ckptDir) dirs.add(this.ckptDir);
    const text = renderRestartScript({
      command: this.dmtcpCommand,
      host: this.host,
      port: this.port,
      images,
      generation,
      compId: hex64(this.compId ?? 0n),
    });
    this.endRound();
    // Workers are already running again; only the commands wait for the script.
    this.scriptChain = this.scriptChain.then(async () => {
      const { written, errors } = images.length > 0 ? await writeRestartScripts(dirs, text) : { written: [], errors: [] };
      for (const e of errors) this.log(e);
      const reply: CheckpointReply = { ok: true, generation, images, elapsed_ms: Math.round(elapsed * 1000) / 1000, scripts: written, warnings };
      for (const waiter of waiters) waiter(reply);
    });
  }

  private endRestart(r: ActiveRound, problem: string | null): void {
    const elapsed = this.elapsedMs(r).toFixed(1);
    if (problem) this.log(`restart of generation ${r.core.generation} ended after ${elapsed} ms: ${problem}`);
    else this.log(`restart of generation ${r.core.generation} done in ${elapsed} ms (${r.core.participants.size} processes)`);
    this.endRound();
  }

  private endRound(): void {
    this.round = null;
    if (this.stopping) return;
    // Admit the processes that arrived too late for the round; a restarting
    // one may open a new round that later ones then join.
    const held = this.deferred;
    this.deferred = [];
    for (const conn of held) {
      const f = conn.deferredHello;
      if (conn.role !== 'deferred') continue;
      if (!f) {
        // Sent KILL instead of ACCEPT: stays counted until it goes.
        this.deferred.push(conn);
        continue;
      }
      conn.deferredHello = null;
      conn.role = 'new';
      this.onHello(conn, f);
    }
    const waiters = this.nextWaiters;
    this.nextWaiters = [];
    if (waiters.length > 0) this.requestCheckpoint(waiters);
    if (!this.round) this.scheduleInterval();
    if (this.workers.size + this.deferred.length === 0) this.afterLeave();
  }

  // ---- interval -----------------------------------------------------------

  private setCheckpointInterval(seconds: number): void {
    this.interval = Math.max(0, seconds);
    this.log(this.interval > 0 ? `checkpoint interval ${this.interval} s` : 'checkpoint interval off');
    if (!this.round) this.scheduleInterval();
  }

  private clearIntervalTimer(): void {
    if (this.intervalTimer) clearTimeout(this.intervalTimer);
    this.intervalTimer = null;
  }

  private scheduleInterval(): void {
    this.clearIntervalTimer();
    if (this.interval <= 0 || this.stopping) return;
    this.intervalTimer = setTimeout(() => {
      this.intervalTimer = null;
      if (this.round) return; // its end reschedules
      if (this.workers.size > 0) this.requestCheckpoint([]);
      else this.scheduleInterval();
    }, this.interval * 1000);
    this.intervalTimer.unref();
  }

  // ---- user commands ------------------------------------------------------

  private onUserCommand(conn: Conn, f: Frame): void {
    if (conn.role === 'new') conn.role = 'command';
    const reply: Waiter = (r) => this.send(conn, encodeFrame({ type: DMT_USER_REPLY, payload: jsonPayload(r) }));
    let cmd: unknown;
    try {
      cmd = parseJsonPayload(f);
    } catch (e) {
      reply({ ok: false, error: (e as Error).message });
      return;
    }
    const c = (typeof cmd === 'object' && cmd !== null ? cmd : {}) as { cmd?: unknown; seconds?: unknown };
    switch (c.cmd) {
      case 'status':
        reply(this.status());
        return;
      case 'checkpoint':
        this.requestCheckpoint([reply]);
        return;
      case 'kill':
        this.kill(reply);
        return;
      case 'quit':
        this.kill((r) => {
          reply(r);
          this.log('quit');
          this.stop();
        });
        return;
      case 'interval': {
        const s = c.seconds;
        if (typeof s !== 'number' || !Number.isFinite(s) || s < 0) {
          reply({ ok: false, error: '"seconds" must be a number >= 0' });
          return;
        }
        this.setCheckpointInterval(s);
        reply({ ok: true, interval: this.interval });
        return;
      }
      default:
        reply({ ok: false, error: `unknown command ${JSON.stringify(c.cmd ?? null)}` });
    }
  }

  status(): StatusReply {
    const r = this.round;
    const processes: ProcessStatus[] = [];
    for (const w of this.workers.values()) {
      const inRound = r?.core.has(w.key) ?? false;
      processes.push({
        upid: w.key,
        pid: w.info.pid,
        host: w.info.host,
        prog: w.info.prog,
        state: !inRound ? 'running' : r!.core.kind === 'checkpoint' ? 'checkpointing' : 'restarting',
      });
    }
    return {
      ok: true,
      num_processes: this.workers.size,
      running: this.workers.size > 0 && !r,
      generation: Number(this.generation),
      comp_id: this.compId === null ? null : hex64(this.compId),
      interval: this.interval,
      coordinator: { host: this.host, port: this.port },
      processes,
    };
  }

  private kill(reply: Waiter): void {
    const targets = [...this.conns].filter((c) => c.role === 'worker' || c.role === 'deferred');
    if (targets.length === 0) {
      reply({ ok: true, killed: 0 });
      return;
    }
    this.log(`killing ${targets.length} processes`);
    const kill = encodeFrame({ type: DMT_KILL });
    for (const c of targets) this.send(c, kill);
    const wait: KillWait = {
      reply,
      killed: targets.length,
      timer: setTimeout(() => {
        this.killWaits = this.killWaits.filter((k) => k !== wait);
        const left = this.workers.size + this.deferred.length;
        const err: ErrorReply = { ok: false, error: `${left} of ${targets.length} processes still connected ${this.killTimeoutMs / 1000} s after kill`, remaining: left };
        reply(err);
      }, this.killTimeoutMs),
    };
    this.killWaits.push(wait);
  }

  // ---- shutdown -------------------------------------------------------------

  /** Stops serving: pending commands get an error, every connection is
   *  closed after what was already written to it has been flushed. */
  stop(): Promise<void> {
    if (this.stopping) return this.stopped;
    this.stopping = true;
    this.resolveStopRequested();
    this.clearIntervalTimer();
    const bye: ErrorReply = { ok: false, error: 'the coordinator is shutting down' };
    for (const k of this.killWaits.splice(0)) {
      clearTimeout(k.timer);
      k.reply(bye);
    }
    const r = this.round;
    this.round = null;
    for (const w of r?.waiters ?? []) w(bye);
    for (const w of this.nextWaiters.splice(0)) w(bye);
    // Let a checkpoint that just completed finish its script and reply first.
    void this.scriptChain.then(() => {
      const conns = [...this.conns];
      this.conns.clear();
      let open = conns.length;
      const done = () => {
        if (--open === 0) this.resolveStopped();
      };
      if (open === 0) this.resolveStopped();
      for (const c of conns) {
        c.role = 'closed';
        const s = c.socket;
        if (s.destroyed) {
          done();
          continue;
        }
        s.once('close', done);
        // Flush what was written (a quit's reply), then tear down even if
        // the peer never closes its side.
        s.end(() => s.destroy());
      }
    });
    return this.stopped;
  }
}
