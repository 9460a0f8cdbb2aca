// The coordinator: knows every process of one computation, runs checkpoint and
// restart rounds as sequences of barriers, answers user commands. It works on
// any Duplex (TCP socket, in-memory pair); listen.ts adds the server.
//
// This module wires the parts that own the state and routes each frame:
//   registry.ts       connections, processes, the computation's identity
//   hello.ts          what a process says about itself, whether it is admitted
//   plugin-host.ts    the coordinator modules of plugins
//   round-runner.ts   checkpoint and restart rounds, the checkpoint interval
//   user-commands.ts  what `dmtcp command` asks
//
// Everything is driven by incoming frames and socket events; the only timers
// are the checkpoint interval and the give-up deadline of kill.
import path from 'node:path';
import type { Duplex } from 'node:stream';
import {
  DMT_ACCEPT,
  DMT_BARRIER,
  DMT_HELLO,
  DMT_KILL,
  DMT_PLUGIN_CALL,
  DMT_PLUGIN_RESULT,
  DMT_REJECT,
  DMT_UPDATE,
  DMT_USER_CMD,
  DMT_USER_REPLY,
  DMTCP_CALL_UNKNOWN,
  DMTCP_DEFAULT_COORD_PORT,
  DMTCP_HELLO_EXEC,
} from '../generated/constants.ts';
import { encodeFrame, type Frame, hex64, jsonPayload } from '../protocol/codec.ts';
import type { CoordinatorPlugin } from '../plugin/index.ts';
import { afterExec, applyUpdate, checkAdmission, describe, parseHello, Rejection } from './hello.ts';
import { KvStore, nameService, type NameService } from './kv.ts';
import { dmtcp5Kvdb } from './dmtcp5-kvdb.ts';
import { defaultFdKinds, defaultModuleLoader, PluginHost } from './plugin-host.ts';
import { type Conn, ProcessRegistry, type Role, type Worker } from './registry.ts';
import { defaultDmtcpCommand } from './restart-script.ts';
import { RoundRunner, type Waiter } from './round-runner.ts';
import type { BarrierPolicy, ErrorReply, HelloInfo, StatusReply } from './types.ts';
import { UserCommands } from './user-commands.ts';

export { parseHello } from './hello.ts';

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

export class Coordinator {
  private readonly log: (line: string) => void;
  private readonly reg = new ProcessRegistry();
  private readonly plugins: PluginHost;
  private readonly rounds: RoundRunner;
  private readonly commands: UserCommands;
  private readonly kv: NameService = nameService();

  private host: string;
  private port: number;
  private readonly exitOnLast: boolean;

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
    this.exitOnLast = opts.exitOnLast ?? false;
    const isStopping = (): boolean => this.stopping;
    const address = (): { host: string; port: number } => ({ host: this.host, port: this.port });
    this.plugins = new PluginHost({
      log: this.log,
      moduleLoader: opts.moduleLoader === undefined ? defaultModuleLoader : opts.moduleLoader,
      fdKinds: opts.fdKinds ?? defaultFdKinds,
      onLoadsSettled: () => this.rounds.releaseHeld(),
      isStopping,
    });
    this.use(this.kv);
    this.use(dmtcp5Kvdb());
    for (const [name, fn] of opts.policies ?? []) this.registerPolicy(name, fn);
    this.rounds = new RoundRunner({
      registry: this.reg,
      plugins: this.plugins,
      log: this.log,
      ckptDir: opts.ckptDir ? path.resolve(opts.ckptDir) : undefined,
      dmtcpCommand: opts.dmtcpCommand ?? defaultDmtcpCommand(),
      address,
      interval: opts.interval ?? 0,
      isStopping,
      admitDeferred: () => this.admitDeferred(),
      computationEmpty: () => this.afterLeave(),
    });
    this.commands = new UserCommands({
      registry: this.reg,
      rounds: this.rounds,
      log: this.log,
      killTimeoutMs: opts.killTimeoutMs ?? 5000,
      address,
      stop: () => void this.stop(),
    });
    this.stopped = new Promise((resolve) => {
      this.resolveStopped = resolve;
    });
    this.stopRequested = new Promise((resolve) => {
      this.resolveStopRequested = resolve;
    });
  }

  /** Installs the release policy of a barrier; returns a function that removes it. */
  registerPolicy(name: string, fn: BarrierPolicy): () => void {
    return this.plugins.registerPolicy(name, fn);
  }

  /** Installs a plugin's coordinator half: its barrier policies and the
   *  frames it answers. Throws, installing nothing, when its name, a
   *  policy or a frame type is already taken. Returns a function that
   *  removes it. */
  use(plugin: CoordinatorPlugin): () => void {
    return this.plugins.use(plugin);
  }

  /** The name service, for policies that read what processes published. */
  get names(): KvStore {
    return this.kv.store;
  }

  setAddress(host: string, port: number): void {
    this.host = host;
    this.port = port;
  }

  get numProcesses(): number {
    return this.reg.workers.size;
  }

  status(): StatusReply {
    return this.commands.status();
  }

  /** Serves one connection: a process of the computation or a user command. */
  handle(socket: Duplex): void {
    const conn = this.reg.open(socket);
    if (this.stopping) {
      socket.destroy();
      return;
    }
    const maybeTcp = socket as Duplex & { setNoDelay?: (v: boolean) => void };
    if (typeof maybeTcp.setNoDelay === 'function') maybeTcp.setNoDelay(true);
    this.reg.conns.add(conn);
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
    this.reg.send(conn, frame);
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

  private onBarrier(conn: Conn, f: Frame): void {
    const w = conn.worker;
    if (!w) {
      this.log(`connection ${conn.id}: barrier "${f.name}" before hello; ignored`);
      return;
    }
    this.rounds.onBarrier(w, f);
  }

  private onUserCommand(conn: Conn, f: Frame): void {
    if (conn.role === 'new') conn.role = 'command';
    const reply: Waiter = (r) => this.send(conn, encodeFrame({ type: DMT_USER_REPLY, payload: jsonPayload(r) }));
    this.commands.run(f, reply);
  }

  /** A call may arrive before the module of the caller's plugin is loaded
   *  (the first thing a plugin does after its process said HELLO). */
  private onPluginCall(conn: Conn, f: Frame): void {
    const worker = this.reg.workers.get(hex64(f.upid)) ?? null;
    const answer = this.plugins.call(f.name, { upid: worker?.key ?? null, hello: worker?.info ?? null, payload: f.payload });
    if (!answer && this.plugins.loading) {
      void this.plugins.whenLoaded().then(() => {
        if ((conn.role as Role) !== 'closed' && !this.stopping) this.onPluginCall(conn, f);
      });
      return;
    }
    const { extra, payload } = answer ?? { extra: DMTCP_CALL_UNKNOWN };
    this.send(conn, encodeFrame({ type: DMT_PLUGIN_RESULT, name: f.name, extra, upid: f.upid, compId: this.reg.wireCompId, generation: this.reg.generation, payload }));
  }

  private onPluginRequest(conn: Conn, f: Frame): void {
    const out = this.plugins.request(f.type, { upid: conn.worker?.key ?? null, name: f.name, extra: f.extra, payload: f.payload });
    if (!out.handled) {
      this.log(`connection ${conn.id}: unexpected frame type ${f.type}; ignored`);
      return;
    }
    if ('error' in out) {
      this.log(`connection ${conn.id}: ${out.error}; ignored`);
      return;
    }
    const res = out.response;
    if (!res) return;
    this.send(conn, encodeFrame({
      type: res.type,
      name: f.name,
      extra: res.extra ?? 0,
      upid: conn.worker?.upid ?? 0n,
      compId: this.reg.wireCompId,
      generation: this.reg.generation,
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
      if (this.commands.killing) {
        // A process appearing while we kill the computation belongs to it.
        this.send(conn, encodeFrame({ type: DMT_KILL }));
        if (!conn.worker) this.reg.defer(conn, null);
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
        this.reg.conns.delete(conn);
        conn.socket.end();
      }
    }
  }

  private onExec(w: Worker, info: HelloInfo): void {
    this.plugins.load(info.plugins);
    const old = w.info;
    w.info = afterExec(old, info, w.key);
    this.log(`exec upid=${w.key} ${old.prog} -> ${describe(w.info)}`);
    this.send(w.conn, this.acceptFrame(w.upid, DMTCP_HELLO_EXEC));
    this.rounds.execed(w);
  }

  private admit(conn: Conn, f: Frame, info: HelloInfo): void {
    const isRestart = info.kind === 'restart';
    checkAdmission(f, info, {
      compId: this.reg.compId,
      hasProcesses: this.reg.remaining > 0,
      registered: (key) => this.reg.workers.get(key)?.info,
    });
    const round = this.rounds.joins(isRestart);
    if (round) {
      if (!round.joins) {
        this.log(`connection ${conn.id}: ${info.kind} hello from ${describe(info)} waits for the ${round.kind} round to end`);
        this.reg.defer(conn, f);
        return;
      }
      if (isRestart && f.generation !== round.generation) {
        throw new Rejection(`image of generation ${f.generation} cannot join the restart of generation ${round.generation}`);
      }
    }
    const upid = this.reg.assign(f, isRestart);
    this.plugins.load(info.plugins);
    const key = hex64(upid);
    info.upid = key;
    const w = this.reg.register(conn, upid, key, info);
    if (info.interval > 0 && this.rounds.interval === 0) this.rounds.setInterval(info.interval);
    this.log(`join upid=${key} ${info.kind} ${describe(info)}${info.host ? ` on ${info.host}` : ''} (${this.reg.workers.size} processes)`);
    this.send(conn, this.acceptFrame(upid, f.extra));
    if (round) this.rounds.joined(w);
    else if (isRestart) this.rounds.startRestart(w);
  }

  private acceptFrame(upid: bigint, kind: number): Buffer {
    return encodeFrame({ type: DMT_ACCEPT, extra: kind, upid, compId: this.reg.wireCompId, generation: this.reg.generation });
  }

  private onUpdate(conn: Conn, f: Frame): void {
    const w = conn.worker;
    if (!w) {
      this.log(`connection ${conn.id}: update before hello; ignored`);
      return;
    }
    const oldPid = w.info.pid;
    try {
      applyUpdate(w.info, f);
    } catch (e) {
      this.log(`upid ${w.key}: ${(e as Error).message}`);
      return;
    }
    if (w.info.pid !== oldPid) this.log(`upid=${w.key} ${w.info.prog} is now pid ${w.info.pid}`);
  }

  /** Admits the processes that arrived too late for the round that ended. */
  private admitDeferred(): void {
    for (const conn of this.reg.takeDeferred()) {
      const f = conn.deferredHello;
      if (conn.role !== 'deferred') continue;
      if (!f) {
        // Sent KILL instead of ACCEPT: stays counted until it goes.
        this.reg.deferred.push(conn);
        continue;
      }
      conn.deferredHello = null;
      conn.role = 'new';
      this.onHello(conn, f);
    }
  }

  /** Forgets a connection; for a process this is its leave. Idempotent. */
  private drop(conn: Conn): void {
    const gone = this.reg.forget(conn);
    if (!gone) return;
    const w = gone.left;
    if (w) {
      this.log(`leave upid=${w.key} ${describe(w.info)} (${this.reg.workers.size} processes)`);
      this.plugins.processLeft(w.key, w.info);
      this.rounds.left(w);
    }
    if (gone.wasRole === 'worker' || gone.wasRole === 'deferred') this.afterLeave();
  }

  private afterLeave(): void {
    if (this.reg.remaining !== 0) return;
    this.commands.allGone();
    if (!this.rounds.active) {
      // The computation is over; the next process starts a new one.
      this.reg.endComputation();
      this.plugins.reset('computation');
    }
    if (this.exitOnLast && this.reg.everConnected && !this.stopping) {
      this.log('last process left; exiting');
      void this.stop();
    }
  }

  // ---- shutdown -------------------------------------------------------------

  /** Stops serving: pending commands get an error, every connection is
   *  closed after what was already written to it has been flushed. */
  stop(): Promise<void> {
    if (this.stopping) return this.stopped;
    this.stopping = true;
    this.resolveStopRequested();
    const bye: ErrorReply = { ok: false, error: 'the coordinator is shutting down' };
    this.commands.stop(bye);
    // Let a checkpoint that just completed finish its script and reply first.
    void this.rounds.stop(bye).then(() => {
      const conns = [...this.reg.conns];
      this.reg.conns.clear();
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
