// Checkpoint and restart rounds: who takes part, the barriers they reach,
// the replies each release sends, how the round ends, who waits for it, and
// the interval that starts rounds on its own.
import path from 'node:path';
import { DMT_BARRIER_RELEASED, DMT_DO_CHECKPOINT, DMT_ROUND_FAILED } from '../generated/constants.ts';
import { encodeFrame, type Frame, hex64 } from '../protocol/codec.ts';
import { BARRIER_RESUMED, BARRIER_SUSPENDED, BARRIER_WRITTEN, resolveReplies, Round, type RoundKind, type WrittenImage } from './barriers.ts';
import { decideFds } from './fd-kinds.ts';
import { describe } from './hello.ts';
import type { PluginHost } from './plugin-host.ts';
import type { ProcessRegistry, Worker } from './registry.ts';
import { renderRestartScript, writeRestartScripts } from './restart-script.ts';
import { resumedProblem, writtenOutcome } from './round-outcome.ts';
import type { BarrierRecord, CheckpointReply, ErrorReply, UserReply } from './types.ts';

export type Waiter = (reply: UserReply) => void;

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

export interface RoundRunnerOptions {
  registry: ProcessRegistry;
  plugins: PluginHost;
  log: (line: string) => void;
  ckptDir: string | undefined;
  dmtcpCommand: string[];
  /** Where the coordinator is reached, for restart scripts. */
  address: () => { host: string; port: number };
  interval: number;
  isStopping: () => boolean;
  /** After a round: admit the processes held back for it. */
  admitDeferred: () => void;
  /** After a round when no process is left. */
  computationEmpty: () => void;
}

function byUpid<T extends { upid: string }>(a: T, b: T): number {
  // Upids are fixed-width hex, so string order is numeric order.
  return a.upid < b.upid ? -1 : a.upid > b.upid ? 1 : 0;
}

export class RoundRunner {
  private readonly reg: ProcessRegistry;
  private readonly plugins: PluginHost;
  private readonly log: (line: string) => void;
  private readonly opts: RoundRunnerOptions;
  private round: ActiveRound | null = null;
  /** Checkpoint requests that must wait for the round after the active one. */
  private nextWaiters: Waiter[] = [];
  /** Restart scripts are written one round at a time so an older round can
   *  never overwrite a newer script. */
  private scriptChain: Promise<void> = Promise.resolve();
  private intervalSeconds: number;
  private intervalTimer: NodeJS.Timeout | null = null;

  constructor(opts: RoundRunnerOptions) {
    this.opts = opts;
    this.reg = opts.registry;
    this.plugins = opts.plugins;
    this.log = opts.log;
    this.intervalSeconds = Math.max(0, opts.interval);
    this.scheduleInterval();
  }

  get active(): boolean {
    return this.round !== null;
  }

  get interval(): number {
    return this.intervalSeconds;
  }

  /** The state a process is in for status. */
  stateOf(key: string): 'running' | 'checkpointing' | 'restarting' {
    const r = this.round;
    if (!r?.core.has(key)) return 'running';
    return r.core.kind === 'checkpoint' ? 'checkpointing' : 'restarting';
  }

  /** Whether a new process of this kind joins the active round; null when
   *  there is none. */
  joins(isRestart: boolean): { kind: RoundKind; joins: boolean; generation: bigint } | null {
    const r = this.round;
    if (!r) return null;
    const joins = r.core.joinable && (isRestart ? r.core.kind === 'restart' : r.core.kind === 'checkpoint');
    return { kind: r.core.kind, joins, generation: r.core.generation };
  }

  requestCheckpoint(waiters: Waiter[]): void {
    const r = this.round;
    if (r) {
      if (r.core.kind === 'checkpoint' && r.core.joinable) r.waiters.push(...waiters);
      else this.nextWaiters.push(...waiters);
      return;
    }
    if (this.reg.workers.size === 0) {
      for (const w of waiters) w({ ok: false, error: 'no processes to checkpoint' });
      return;
    }
    this.startCheckpoint(waiters);
  }

  private startCheckpoint(waiters: Waiter[]): void {
    this.clearIntervalTimer();
    this.reg.generation += 1n;
    this.plugins.reset('round');
    const core = new Round('checkpoint', this.reg.generation);
    for (const w of this.reg.workers.values()) core.add(w.key, w.info);
    const r: ActiveRound = { core, startedAt: process.hrtime.bigint(), waiters, images: [], held: new Set(), warnings: [], incomplete: null };
    this.round = r;
    this.log(`checkpoint generation ${core.generation} started with ${core.participants.size} processes`);
    for (const w of this.reg.workers.values()) this.reg.send(w.conn, this.doCheckpointFrame(w.upid, core));
  }

  /** A new process joins the active round (joins() said it does). */
  joined(w: Worker): void {
    const r = this.round;
    if (!r) return;
    r.core.add(w.key, w.info);
    if (r.core.kind === 'checkpoint') this.reg.send(w.conn, this.doCheckpointFrame(w.upid, r.core));
  }

  startRestart(first: Worker): void {
    this.clearIntervalTimer();
    this.plugins.reset('round');
    const core = new Round('restart', this.reg.generation);
    core.add(first.key, first.info);
    this.round = { core, startedAt: process.hrtime.bigint(), waiters: [], images: [], held: new Set(), warnings: [], incomplete: null };
    this.log(`restart of computation ${hex64(this.reg.compId ?? 0n)} generation ${core.generation} started (${first.info.numPeers || '?'} processes expected)`);
  }

  /** A process exec'ed: its new record takes part, and the new image needs
   *  the DO_CHECKPOINT the old one may have left unread. */
  execed(w: Worker): void {
    const r = this.round;
    if (r?.core.has(w.key)) r.core.participants.set(w.key, w.info);
    if (r && r.core.kind === 'checkpoint' && r.core.has(w.key) && !r.core.hasArrivedAnywhere(w.key)) {
      this.reg.send(w.conn, this.doCheckpointFrame(w.upid, r.core));
    }
  }

  onBarrier(w: Worker, f: Frame): void {
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

  /** Releases the barriers held while plugin modules were loading. */
  releaseHeld(): void {
    const r = this.round;
    if (!r) return;
    for (const name of [...r.held]) {
      r.held.delete(name);
      if (this.round !== r) return;
      if (!r.core.hasReleased(name) && r.core.isReady(name)) this.release(r, name);
    }
  }

  private release(r: ActiveRound, name: string): void {
    if (this.plugins.mustHold(name)) {
      // The module with this barrier's policy may be the one being loaded.
      r.held.add(name);
      return;
    }
    const policy = this.plugins.policy(name);
    const records = r.core.release(name);
    let replies: Buffer | Map<string, Buffer>;
    try {
      const ordered = policy ? [...records].sort(byUpid) : records;
      replies = resolveReplies(policy, ordered);
    } catch (e) {
      this.fail(`the policy of barrier "${name}" failed: ${(e as Error).message}`);
      return;
    }
    if (r.core.kind === 'checkpoint') {
      if (name === BARRIER_SUSPENDED) {
        const notes = this.judgeDescriptors(r, records);
        if (notes === null) return;
        if (!policy) replies = notes;
      } else if (name === BARRIER_WRITTEN) {
        const outcome = writtenOutcome(records, (rec) => this.opts.ckptDir || rec.hello.ckptdir || '/');
        for (const p of outcome.problems) this.log(p);
        if (!outcome.ok) {
          // Released to nobody: every process gets ROUND_FAILED instead and
          // deletes its temporary image; none replaces the previous one.
          this.fail(outcome.reason);
          return;
        }
        r.images.push(...outcome.images);
      } else if (name === BARRIER_RESUMED) {
        r.incomplete = resumedProblem(records);
      }
    }
    const count = r.core.participants.size;
    const common = { type: DMT_BARRIER_RELEASED, name, generation: r.core.generation, extra: count, compId: this.reg.wireCompId };
    for (const rec of records) {
      const w = this.reg.workers.get(rec.upid);
      if (!w) continue;
      const payload = Buffer.isBuffer(replies) ? replies : replies.get(rec.upid);
      this.reg.send(w.conn, encodeFrame({ ...common, upid: w.upid, payload }));
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
      handled: this.plugins.handledFdKinds(rec.hello.plugins),
    })));
    for (const w of decision.warnings) {
      this.log(`warning: ${w.line}`);
      r.warnings.push(w.line);
    }
    if (decision.refusal) {
      this.fail(decision.refusal);
      return null;
    }
    return new Map([...decision.notes].map(([upid, note]) => [upid, Buffer.from(note)]));
  }

  /** A process left: it drops out of the round, or fails it when it left
   *  with its image unfinished. */
  left(w: Worker): void {
    const r = this.round;
    if (!r || !r.core.has(w.key)) return;
    // A process that exits before it stopped for this round is simply not
    // part of it; one that leaves while its image is unfinished fails it.
    if (r.core.leaveIsFatal && r.core.hasArrivedAnywhere(w.key)) {
      r.core.remove(w.key);
      this.fail(`${describe(w.info)} exited during the checkpoint`);
      return;
    }
    const ready = r.core.remove(w.key);
    if (r.core.participants.size === 0) {
      if (r.core.kind === 'checkpoint') this.fail(`${describe(w.info)} exited during the checkpoint`);
      else this.endRestart(r, 'every restarted process is gone');
      return;
    }
    for (const name of ready) {
      if (this.round !== r) break;
      this.release(r, name);
    }
  }

  private elapsedMs(r: ActiveRound): number {
    return Number((process.hrtime.bigint() - r.startedAt) / 1000n) / 1000;
  }

  private fail(reason: string): void {
    const r = this.round;
    if (!r) return;
    const frame = (upid: bigint) => encodeFrame({ type: DMT_ROUND_FAILED, generation: r.core.generation, upid, compId: this.reg.wireCompId, payload: Buffer.from(reason) });
    for (const key of r.core.participants.keys()) {
      const w = this.reg.workers.get(key);
      if (w) this.reg.send(w.conn, frame(w.upid));
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
    const images = [...r.images].sort(byUpid).map((i) => i.image);
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
    if (this.opts.ckptDir) dirs.add(this.opts.ckptDir);
    const { host, port } = this.opts.address();
    const text = renderRestartScript({
      command: this.opts.dmtcpCommand,
      host,
      port,
      images,
      generation,
      compId: hex64(this.reg.wireCompId),
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
    if (this.opts.isStopping()) return;
    // Admit the processes that arrived too late for the round; a restarting
    // one may open a new round that later ones then join.
    this.opts.admitDeferred();
    const waiters = this.nextWaiters;
    this.nextWaiters = [];
    if (waiters.length > 0) this.requestCheckpoint(waiters);
    if (!this.round) this.scheduleInterval();
    if (this.reg.remaining === 0) this.opts.computationEmpty();
  }

  private doCheckpointFrame(upid: bigint, core: Round): Buffer {
    return encodeFrame({
      type: DMT_DO_CHECKPOINT,
      generation: core.generation,
      extra: core.participants.size,
      upid,
      compId: this.reg.wireCompId,
    });
  }

  // ---- interval -----------------------------------------------------------

  setInterval(seconds: number): void {
    this.intervalSeconds = Math.max(0, seconds);
    this.log(this.intervalSeconds > 0 ? `checkpoint interval ${this.intervalSeconds} s` : 'checkpoint interval off');
    if (!this.round) this.scheduleInterval();
  }

  private clearIntervalTimer(): void {
    if (this.intervalTimer) clearTimeout(this.intervalTimer);
    this.intervalTimer = null;
  }

  private scheduleInterval(): void {
    this.clearIntervalTimer();
    if (this.intervalSeconds <= 0 || this.opts.isStopping()) return;
    this.intervalTimer = setTimeout(() => {
      this.intervalTimer = null;
      if (this.round) return; // its end reschedules
      if (this.reg.workers.size > 0) this.requestCheckpoint([]);
      else this.scheduleInterval();
    }, this.intervalSeconds * 1000);
    this.intervalTimer.unref();
  }

  // ---- shutdown -----------------------------------------------------------

  /** Drops the active round and every pending request, answering them with
   *  bye. Resolves when a restart script being written is done. */
  stop(bye: ErrorReply): Promise<void> {
    this.clearIntervalTimer();
    const r = this.round;
    this.round = null;
    for (const w of r?.waiters ?? []) w(bye);
    for (const w of this.nextWaiters.splice(0)) w(bye);
    return this.scriptChain;
  }
}
