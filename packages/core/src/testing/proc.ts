// A spawned process whose stdout is split into lines that tests wait on.
// Every process is started in its own process group and registered, so that
// cleanup() (and, as a last resort, the exit of the test worker) kills it and
// anything it forked.
import { spawn, type ChildProcess } from 'node:child_process';

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface LineMatch {
  line: string;
  /** Index of the line in lines(). */
  index: number;
  match: RegExpExecArray;
}

export interface WaitOptions {
  /** Only consider lines with index >= after (see Proc.mark()). */
  after?: number;
}

export interface SpawnOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Shown in error messages, e.g. "launch counter". */
  label?: string;
}

const STDERR_KEEP = 64 * 1024;
const DEFAULT_WAIT_MS = 20_000;
/** After exit, how long to wait for the rest of the output still in the pipes. */
const DRAIN_MS = 500;

type Waiter = () => void;

const live = new Set<Proc>();

export function formatStatus(s: ExitStatus): string {
  return s.signal !== null ? `killed by ${s.signal}` : `exited with code ${s.code}`;
}

export class Proc {
  readonly pid: number;
  readonly label: string;
  readonly child: ChildProcess;
  /** Resolves once the process has exited and its output has been read. */
  readonly done: Promise<ExitStatus>;
  private readonly out: string[] = [];
  private partial = '';
  private err = '';
  private status: ExitStatus | null = null;
  private finished = false;
  private readonly waiters = new Set<Waiter>();
  private readonly related: Proc[] = [];

  constructor(argv: readonly string[], opts: SpawnOptions = {}) {
    const [cmd, ...args] = argv;
    if (cmd === undefined) throw new Error('empty command');
    this.label = opts.label ?? argv.join(' ');
    this.child = spawn(cmd, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
      env: opts.env ?? process.env,
      cwd: opts.cwd,
    });
    if (this.child.pid === undefined) {
      // spawn failed synchronously enough that there is no pid; 'error' follows
      this.pid = -1;
    } else {
      this.pid = this.child.pid;
    }
    live.add(this);

    this.child.stdin?.on('error', () => {
      // the target may die with our writes in flight; that is the test's business
    });
    this.child.stdout?.setEncoding('utf8');
    this.child.stderr?.setEncoding('utf8');
    this.child.stdout?.on('data', (chunk: string) => this.onStdout(chunk));
    this.child.stderr?.on('data', (chunk: string) => {
      this.err += chunk;
      if (this.err.length > STDERR_KEEP * 2) this.err = this.err.slice(-STDERR_KEEP);
    });

    const stdoutEnded = new Promise<void>((resolve) => {
      if (!this.child.stdout) resolve();
      else this.child.stdout.on('close', () => resolve());
    });
    const exited = new Promise<ExitStatus>((resolve) => {
      this.child.on('exit', (code, signal) => resolve({ code, signal }));
      this.child.on('error', (e) => {
        this.err += `\n[spawn error: ${e.message}]`;
        resolve({ code: 127, signal: null });
      });
    });
    this.done = exited.then(async (status) => {
      // A forked grandchild may hold the pipe open forever, so the drain is bounded.
      await Promise.race([stdoutEnded, new Promise((r) => setTimeout(r, DRAIN_MS))]);
      if (this.partial !== '') {
        this.out.push(this.partial);
        this.partial = '';
      }
      this.status = status;
      this.finished = true;
      live.delete(this);
      this.notify();
      return status;
    });
  }

  private onStdout(chunk: string): void {
    const parts = (this.partial + chunk).split('\n');
    this.partial = parts.pop() ?? '';
    if (parts.length === 0) return;
    for (const p of parts) this.out.push(p.endsWith('\r') ? p.slice(0, -1) : p);
    this.notify();
  }

  private notify(): void {
    for (const w of [...this.waiters]) w();
  }

  /** Complete stdout lines received so far. */
  lines(): string[] {
    return [...this.out];
  }

  /** Number of lines so far: pass as `after` to wait only for newer lines. */
  mark(): number {
    return this.out.length;
  }

  stderr(): string {
    return this.err;
  }

  /** Exit status, or null while running. */
  exitStatus(): ExitStatus | null {
    return this.status;
  }

  get running(): boolean {
    return !this.finished;
  }

  write(text: string): void {
    this.child.stdin?.write(text);
  }

  closeStdin(): void {
    this.child.stdin?.end();
  }

  /** Send a signal to the process itself (not its group). */
  signal(sig: NodeJS.Signals): void {
    if (this.finished || this.pid <= 0) return;
    try {
      process.kill(this.pid, sig);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
    }
  }

  /** Send a signal to the whole process group (the process and what it forked). */
  signalGroup(sig: NodeJS.Signals): void {
    if (this.pid <= 0) return;
    for (const target of [-this.pid, this.pid]) {
      try {
        process.kill(target, sig);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== 'ESRCH' && code !== 'EPERM') throw e;
      }
    }
  }

  /**
   * Show `other` (say, the coordinator this process talks to) in this
   * process's error messages too.
   */
  relate(other: Proc): void {
    if (other !== this && !this.related.includes(other)) this.related.push(other);
  }

  /** A multi-line description for error messages: state, recent stdout, stderr. */
  describe(tailLines = 15, withRelated = true): string {
    const state = this.status ? formatStatus(this.status) : 'still running';
    const tail = this.out.slice(-tailLines);
    const err = this.err.length > 8000 ? `...${this.err.slice(-8000)}` : this.err;
    const text = [
      `${this.label} (pid ${this.pid}, ${state})`,
      `--- last ${tail.length} of ${this.out.length} stdout lines ---`,
      ...tail,
      '--- stderr ---',
      err.trimEnd() || '(empty)',
    ];
    if (withRelated) {
      for (const r of this.related) text.push(`=== related: ${r.describe(8, false)}`);
    }
    return text.join('\n');
  }

  /**
   * Resolve with the first value `check` returns that is not undefined,
   * re-evaluated on every new line and on exit. Rejects on timeout, or when
   * the process has finished and `check` still finds nothing.
   */
  waitUntil<T>(check: () => T | undefined, what: string, timeoutMs = DEFAULT_WAIT_MS): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const finish = (err: Error | null, value?: T): void => {
        this.waiters.delete(waiter);
        if (timer) clearTimeout(timer);
        if (err) reject(err);
        else resolve(value as T);
      };
      const waiter: Waiter = () => {
        let value: T | undefined;
        try {
          value = check();
        } catch (e) {
          finish(e instanceof Error ? e : new Error(String(e)));
          return;
        }
        if (value !== undefined) finish(null, value);
        else if (this.finished) finish(new Error(`${what}: the process ended first\n${this.describe()}`));
      };
      timer = setTimeout(() => finish(new Error(`timed out after ${timeoutMs} ms ${what}\n${this.describe()}`)), timeoutMs);
      this.waiters.add(waiter);
      waiter();
    });
  }

  /** The first stdout line (at index >= opts.after) that matches `re`. */
  waitForLine(re: RegExp, timeoutMs = DEFAULT_WAIT_MS, opts: WaitOptions = {}): Promise<LineMatch> {
    let next = opts.after ?? 0;
    const matcher = new RegExp(re.source, re.flags.replace(/[gy]/g, ''));
    return this.waitUntil(
      () => {
        for (; next < this.out.length; next++) {
          const line = this.out[next] as string;
          const match = matcher.exec(line);
          if (match) return { line, index: next, match };
        }
        return undefined;
      },
      `waiting for a line matching ${re}${opts.after ? ` after line ${opts.after}` : ''}`,
      timeoutMs,
    );
  }

  /** Wait for the exit; on timeout the process is left running (cleanup() kills it). */
  waitForExit(timeoutMs = DEFAULT_WAIT_MS): Promise<ExitStatus> {
    return this.waitUntil(() => this.status ?? undefined, 'waiting for the process to exit', timeoutMs);
  }

  /** SIGKILL the process group and wait until it is gone. */
  async kill9(timeoutMs = 10_000): Promise<ExitStatus> {
    this.signalGroup('SIGKILL');
    return this.waitForExit(timeoutMs);
  }
}

/** Every process started through the harness that has not finished yet. */
export function liveProcs(): Proc[] {
  return [...live];
}

/** Kill every live process group and wait (bounded) for them to go. */
export async function killAll(timeoutMs = 10_000): Promise<void> {
  const procs = liveProcs();
  for (const p of procs) p.signalGroup('SIGKILL');
  await Promise.all(procs.map((p) => p.waitForExit(timeoutMs).catch(() => undefined)));
}

// A test worker that exits without running afterEach (crash, bail) must not
// leave targets or coordinators behind.
process.on('exit', () => {
  for (const p of live) p.signalGroup('SIGKILL');
});
