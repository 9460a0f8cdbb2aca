// What `dmtcp command` asks: status, checkpoint, kill, quit, interval. Owns
// the kills in progress, which wait for every process to go.
import { DMT_KILL } from '../generated/constants.ts';
import { encodeFrame, type Frame, hex64, parseJsonPayload } from '../protocol/codec.ts';
import type { ProcessRegistry } from './registry.ts';
import type { RoundRunner, Waiter } from './round-runner.ts';
import type { ErrorReply, ProcessStatus, StatusReply } from './types.ts';

interface KillWait {
  reply: Waiter;
  timer: NodeJS.Timeout;
  killed: number;
}

export interface UserCommandsOptions {
  registry: ProcessRegistry;
  rounds: RoundRunner;
  log: (line: string) => void;
  killTimeoutMs: number;
  address: () => { host: string; port: number };
  /** Stops the coordinator (after quit). */
  stop: () => void;
}

export class UserCommands {
  private readonly reg: ProcessRegistry;
  private readonly rounds: RoundRunner;
  private readonly opts: UserCommandsOptions;
  private killWaits: KillWait[] = [];

  constructor(opts: UserCommandsOptions) {
    this.opts = opts;
    this.reg = opts.registry;
    this.rounds = opts.rounds;
  }

  /** True while a kill waits for processes to go: newcomers belong to the
   *  computation being killed. */
  get killing(): boolean {
    return this.killWaits.length > 0;
  }

  run(f: Frame, reply: Waiter): void {
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
        this.rounds.requestCheckpoint([reply]);
        return;
      case 'kill':
        this.kill(reply);
        return;
      case 'quit':
        this.kill((r) => {
          reply(r);
          this.opts.log('quit');
          this.opts.stop();
        });
        return;
      case 'interval': {
        const s = c.seconds;
        if (typeof s !== 'number' || !Number.isFinite(s) || s < 0) {
          reply({ ok: false, error: '"seconds" must be a number >= 0' });
          return;
        }
        this.rounds.setInterval(s);
        reply({ ok: true, interval: this.rounds.interval });
        return;
      }
      default:
        reply({ ok: false, error: `unknown command ${JSON.stringify(c.cmd ?? null)}` });
    }
  }

  status(): StatusReply {
    const processes: ProcessStatus[] = [];
    for (const w of this.reg.workers.values()) {
      processes.push({ upid: w.key, pid: w.info.pid, host: w.info.host, prog: w.info.prog, state: this.rounds.stateOf(w.key) });
    }
    return {
      ok: true,
      num_processes: this.reg.workers.size,
      running: this.reg.workers.size > 0 && !this.rounds.active,
      generation: Number(this.reg.generation),
      comp_id: this.reg.compId === null ? null : hex64(this.reg.compId),
      interval: this.rounds.interval,
      coordinator: this.opts.address(),
      processes,
    };
  }

  private kill(reply: Waiter): void {
    const targets = this.reg.processConns();
    if (targets.length === 0) {
      reply({ ok: true, killed: 0 });
      return;
    }
    this.opts.log(`killing ${targets.length} processes`);
    const kill = encodeFrame({ type: DMT_KILL });
    for (const c of targets) this.reg.send(c, kill);
    const wait: KillWait = {
      reply,
      killed: targets.length,
      timer: setTimeout(() => {
        this.killWaits = this.killWaits.filter((k) => k !== wait);
        const left = this.reg.remaining;
        const err: ErrorReply = { ok: false, error: `${left} of ${targets.length} processes still connected ${this.opts.killTimeoutMs / 1000} s after kill`, remaining: left };
        reply(err);
      }, this.opts.killTimeoutMs),
    };
    this.killWaits.push(wait);
  }

  /** Every process has gone: the kills waiting for that succeed. */
  allGone(): void {
    for (const k of this.killWaits.splice(0)) {
      clearTimeout(k.timer);
      k.reply({ ok: true, killed: k.killed });
    }
  }

  stop(bye: ErrorReply): void {
    for (const k of this.killWaits.splice(0)) {
      clearTimeout(k.timer);
      k.reply(bye);
    }
  }
}
