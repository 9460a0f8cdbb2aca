// What the pid plugin's end-to-end checks share: the plugin's paths, launch
// arguments that load it, and bookkeeping for processes that leave the
// harness's process group (session leaders, steered sleepers).
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileFixture, effectiveUid, status, type Proc } from '@dmtcp/core/testing';

export const pkgRoot = fileURLToPath(new URL('..', import.meta.url));
export const PLUGIN_LIB = path.join(pkgRoot, 'build', 'libdmtcp_pid.so');

export function fixture(name: string): Promise<string> {
  return compileFixture(path.join(pkgRoot, 'test', 'fixtures', name));
}

/**
 * Launch options that load exactly this plugin, from its library: built-in
 * plugins (this one included, once installed) stay out.
 */
export function withPlugin(env: NodeJS.ProcessEnv = {}): { args: string[]; env: NodeJS.ProcessEnv } {
  return { args: ['--with-plugin', PLUGIN_LIB], env: { DMTCP_BUILTIN_PLUGINS: '0', ...env } };
}

/** Real pids of the computation's processes, as the coordinator knows them. */
export async function realPids(port: number): Promise<number[]> {
  const s = await status(port);
  return (s.processes as { pid: number }[]).map((p) => p.pid);
}

/** Pids to SIGKILL after each test, whatever group they ended up in. */
export const strays = new Set<number>();

export function killStrays(): void {
  for (const pid of strays) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  strays.clear();
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Waits until no task holds `pid` (a killed process stays a zombie until
 *  its parent, or init, reaps it). */
export async function waitGone(pid: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (alive(pid)) {
    if (Date.now() > deadline) throw new Error(`pid ${pid} is still taken after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Real tids of a process's threads, from /proc. */
export async function realTids(pid: number): Promise<number[]> {
  return (await readdir(`/proc/${pid}/task`)).map(Number).sort((a, b) => a - b);
}

/** Waits for `n` new lines matching `re` (after `mark`), returning their matches. */
export async function collect(proc: Proc, re: RegExp, n: number, mark: number, what: string): Promise<RegExpExecArray[]> {
  return proc.waitUntil(() => {
    const found = proc.lines().slice(mark).map((l) => re.exec(l)).filter((m): m is RegExpExecArray => m !== null);
    return found.length >= n ? found : undefined;
  }, `waiting for ${n} ${what} lines`, 20_000);
}

// ---- steering real pids (root only) ----

const NS_LAST_PID = '/proc/sys/kernel/ns_last_pid';

/** Why pids cannot be steered here, or null when they can. */
export function steeringUnavailable(): string | null {
  if (effectiveUid(undefined) !== 0) return 'choosing the pid of a new process needs root (/proc/sys/kernel/ns_last_pid)';
  try {
    writeFileSync(NS_LAST_PID, readFileSync(NS_LAST_PID, 'utf8').trim());
  } catch (e) {
    return `${NS_LAST_PID} is not writable: ${(e as Error).message}`;
  }
  return null;
}

/** Makes `pid` the next pid the kernel hands out, if it is free. */
export function steerNextPid(pid: number): void {
  writeFileSync(NS_LAST_PID, String(pid - 1));
}

/**
 * Starts `sleep` so that its real pid is `pid` (other processes on the
 * machine may take it first: retried). Returns the sleeper's pid.
 */
export async function sleeperOn(pid: number, attempts = 20): Promise<number> {
  await waitGone(pid);
  for (let i = 0; i < attempts; i++) {
    steerNextPid(pid);
    const child = spawn('sleep', ['1000'], { stdio: 'ignore', detached: true });
    child.unref();
    const got = child.pid ?? -1;
    if (got > 0) strays.add(got);
    if (got === pid) return got;
    if (got > 0) process.kill(got, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`could not start a process with pid ${pid} in ${attempts} attempts`);
}
