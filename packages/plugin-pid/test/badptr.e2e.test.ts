// Bad pointers (test/fixtures/badptr.c): every wrapped function of the
// core, plugin-pid and plugin-file that takes a pointer, called with NULL,
// (void *)1, an unmapped page and a pointer running into one, must answer
// under dmtcp exactly as without it (the kernel's EFAULT, or libc's own
// crash where libc itself reads the pointer), never crash in a wrapper.
// The fixture runs natively and under `dmtcp launch` with the core alone,
// with this plugin, with plugin-file and with both, and again after a
// checkpoint, kill -9 and restart; its outputs must be identical.
//
// Which functions need a call is read from the code: the exported symbols
// of the three libraries and the system call numbers this plugin's
// syscall(2) wrapper handles; each is either called by the fixture or
// listed below as taking no pointer.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, test } from 'vitest';
import {
  Proc, checkpointImages, childEnv, cleanup, corePackageRoot, launch, restart, startCoordinator, waitForProcesses,
} from '@dmtcp/core/testing';
import { PLUGIN_LIB, fixture, pkgRoot } from './helpers.ts';

const FILE_ROOT = path.join(pkgRoot, '..', 'plugin-file');
const FILE_LIB = path.join(FILE_ROOT, 'build', 'libdmtcp_file.so');
const CORE_LIB = path.join(corePackageRoot, 'build', 'lib', 'libdmtcp.so');
const FIXTURE_SRC = path.join(pkgRoot, 'test', 'fixtures', 'badptr.c');

/** Exported functions that take no pointer the wrapper could read. */
const NO_POINTER = new Set([
  'close', 'close_range', 'closefrom', 'dup', 'dup2', 'dup3', 'fork', 'vfork', 'sleep', 'usleep', 'pthread_exit',
  'signal', 'getpid', 'getppid', 'gettid', 'getpgid', 'getpgrp', 'getsid', 'setpgid', 'setsid', 'tcgetpgrp',
  'tcsetpgrp', 'tcgetsid', 'kill', 'killpg', 'tgkill', 'sigqueue', 'pidfd_open', 'getpriority', 'setpriority',
  'sched_getscheduler', 'pause',
]);
/** The plugin API and event entry points: ours, not libc's, nothing to compare with. */
const isApi = (sym: string): boolean => sym.startsWith('dmtcp_');
/** syscall(2) numbers the wrapper handles that carry no pointer. */
const SYSCALL_NO_POINTER = new Set([
  'SYS_getpid', 'SYS_gettid', 'SYS_getppid', 'SYS_getpgid', 'SYS_getpgrp', 'SYS_getsid', 'SYS_setpgid', 'SYS_setsid',
  'SYS_kill', 'SYS_tkill', 'SYS_tgkill', 'SYS_pidfd_open', 'SYS_dup', 'SYS_dup2', 'SYS_dup3', 'SYS_getpriority',
  'SYS_setpriority', 'SYS_ioprio_get', 'SYS_ioprio_set', 'SYS_sched_getscheduler',
]);

function exported(lib: string): string[] {
  const out = execFileSync('nm', ['-D', '--defined-only', lib], { encoding: 'utf8' });
  return out.split('\n').map((l) => l.trim().split(/\s+/)).filter((f) => f.length === 3 && /^[TWi]$/.test(f[1]!))
    .map((f) => f[2]!.replace(/@.*$/, ''));
}

function fixtureCalls(): string[] {
  return [...readFileSync(FIXTURE_SRC, 'utf8').matchAll(/^CALL\(\w+, "([^"]+)"/gm)].map((m) => m[1]!);
}

/**
 * Calls whose errno without dmtcp is an accident of libc's insides: the
 * return value must agree, errno may not. glibc's popen fails with whatever
 * errno its internal posix_spawn left (ENOMEM here) when the shell cannot
 * be started; the pid plugin's popen says why (posix_spawn's EFAULT).
 */
const ERRNO_MAY_DIFFER = new Set(['popen/command']);

function comparable(line: string): string {
  const [name, kind, ...rest] = line.split(' ');
  return ERRNO_MAY_DIFFER.has(name ?? '') ? [name, kind, ...rest.filter((r) => !r.startsWith('errno='))].join(' ') : line;
}

function batches(lines: readonly string[]): [string[], string[]] {
  const end1 = lines.indexOf('BATCH 1 END');
  const end2 = lines.indexOf('BATCH 2 END');
  return [lines.slice(0, end1).map(comparable), lines.slice(end1 + 1, end2).map(comparable)];
}

/** Lines that differ, side by side, for the failure message. */
function differences(want: readonly string[], got: readonly string[]): string {
  const out: string[] = [];
  for (let i = 0; i < Math.max(want.length, got.length); i++) {
    if (want[i] !== got[i]) out.push(`  without dmtcp: ${want[i] ?? '(none)'}\n  under dmtcp:   ${got[i] ?? '(none)'}`);
  }
  return out.join('\n');
}

let exe = '';
let native: [string[], string[]] = [[], []];

beforeAll(async () => {
  execFileSync('pnpm', ['run', '-s', 'build'], { cwd: FILE_ROOT, stdio: 'inherit' });
  exe = await fixture('badptr.c');
  const proc = new Proc([exe], { env: childEnv(), label: 'badptr (without dmtcp)' });
  await proc.waitForLine(/^BATCH 1 END$/, 60_000);
  process.kill(proc.pid, 'SIGUSR1');
  await proc.waitForLine(/^BATCH 2 END$/, 60_000);
  await proc.waitForExit(10_000);
  native = batches(proc.lines());
}, 120_000);

afterEach(async () => {
  await cleanup();
});

test('every exported wrapper and every syscall(2) number handled is called by the fixture or takes no pointer', () => {
  expect(existsSync(FILE_LIB), `${FILE_LIB} is built`).toBe(true);
  const called = new Set(fixtureCalls().map((n) => n.split('/')[0]!));
  const sysCalled = new Set(fixtureCalls().filter((n) => n.startsWith('syscall/')).map((n) => n.split('/')[1]!));
  const missing: string[] = [];
  for (const lib of [CORE_LIB, PLUGIN_LIB, FILE_LIB]) {
    for (const sym of exported(lib)) {
      if (!called.has(sym) && !NO_POINTER.has(sym) && !isApi(sym)) missing.push(`${path.basename(lib)}: ${sym}`);
    }
  }
  const native_ = path.join(pkgRoot, 'native');
  for (const f of readdirSync(native_).filter((n) => n.endsWith('.c'))) {
    for (const m of readFileSync(path.join(native_, f), 'utf8').matchAll(/case (SYS_\w+):/g)) {
      if (!sysCalled.has(m[1]!) && !SYSCALL_NO_POINTER.has(m[1]!)) missing.push(`${f}: syscall(${m[1]})`);
    }
  }
  expect(missing, 'wrappers the fixture does not call').toEqual([]);
  // The native run printed a line for each call and kind.
  expect(native[0]).toHaveLength(fixtureCalls().length * 4);
  expect(native[1]).toEqual(native[0]);
});

const CONFIGS = [
  { name: 'the core alone', libs: [] as string[] },
  { name: 'plugin-pid', libs: [PLUGIN_LIB] },
  { name: 'plugin-file', libs: [FILE_LIB] },
  { name: 'plugin-pid and plugin-file', libs: [PLUGIN_LIB, FILE_LIB] },
];

describe.each(CONFIGS)('under dmtcp launch with $name', ({ libs }) => {
  test('each call answers as without dmtcp, before and after a checkpoint and restart', async () => {
    const coord = await startCoordinator();
    const plugins = { args: libs.length ? ['--with-plugin', libs.join(':')] : [], env: { DMTCP_BUILTIN_PLUGINS: '0' } };
    let proc = launch(exe, [], { ...coord, ...plugins });
    await proc.waitForLine(/^BATCH 1 END$/, 120_000);
    const first = batches([...proc.lines(), 'BATCH 2 END'])[0];
    expect(first, `before any checkpoint:\n${differences(native[0], first)}`).toEqual(native[0]);
    await waitForProcesses(coord.port, 1);

    const { images } = await checkpointImages(coord);
    expect(images).toHaveLength(1);
    await proc.kill9();
    await waitForProcesses(coord.port, 0);
    proc = restart(images, { ...coord, env: plugins.env });
    await waitForProcesses(coord.port, 1, { watch: proc });
    const mark = proc.mark();
    process.kill(proc.pid, 'SIGUSR1');
    await proc.waitForLine(/^BATCH 2 END$/, 120_000, { after: mark });
    const second = batches(['BATCH 1 END', ...proc.lines().slice(mark)])[1];
    expect(second, `after a restart:\n${differences(native[1], second)}`).toEqual(native[1]);
    await proc.waitForExit(20_000);
  });
});
