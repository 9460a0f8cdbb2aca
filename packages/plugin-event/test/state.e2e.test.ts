// Every setting of eventfds, a signalfd and two epoll sets, as the kernel
// shows them (test/fixtures/state.c), is the same after each of 3
// checkpoint / kill -9 / restart cycles: counters (one above 32 bits),
// EFD_SEMAPHORE, O_NONBLOCK, close-on-exec, fd numbers, the signalfd's mask
// and its pending SIGUSR2, a dup that is still one description, interest
// lists with EPOLLET, a disarmed EPOLLONESHOT, EPOLLEXCLUSIVE, 64-bit data,
// an interest whose number was closed while a dup kept the pipe, and a set
// inside a set.
import { afterEach, expect, test } from 'vitest';
import { checkpointKillRestart, cleanup, launch, startCoordinator, type Proc } from '@dmtcp/core/testing';
import { BUILTINS, eventMessages, fixture, warnings } from './helpers.ts';

afterEach(cleanup);

const TICK = /^tick (\d+) et \d+$/;

function states(proc: Proc): string[] {
  return proc.lines().filter((l) => l.startsWith('STATE '));
}

function etEvents(proc: Proc): number[] {
  return proc.lines().flatMap((l) => {
    const m = /^tick \d+ et (\d+)$/.exec(l);
    return m ? [Number(m[1])] : [];
  });
}

test('state: every eventfd, signalfd and epoll setting survives 3 restarts', async () => {
  const exe = await fixture('state.c');
  const coord = await startCoordinator();
  let proc = launch(exe, [], { ...coord, env: BUILTINS });
  await proc.waitForLine(/^tick 3 /);
  // The first line shows the ONESHOT interest firing; from the second on
  // it is disarmed and the state is steady.
  const steady = states(proc)[1] as string;
  expect(steady, proc.describe()).toMatch(/ \| E: A 80000019 fedcba9876543210 Rd 19 4 S 10000019 3 q0 40000000 8000000000000001 \| E2: E 19 5 \| ready 3 4 \| shared 1$/);
  expect(steady).toMatch(/^STATE A:11:100000005:1 B:00:7:0 Bd:00:7:0 S:10:0000001000000800 /);
  let et = etEvents(proc).at(-1) as number;
  for (let cycle = 1; cycle <= 3; cycle++) {
    proc = (await checkpointKillRestart(proc, TICK, coord, { env: BUILTINS, linesAfterRestart: 3 })).proc;
    expect(states(proc).length, proc.describe()).toBeGreaterThan(0);
    for (const s of states(proc)) expect(s, proc.describe()).toBe(steady);
    expect(eventMessages(proc), proc.describe()).toEqual([]);
    // An edge-triggered interest whose target is ready gets one event when
    // it is added back (README): at most one per restart, never a stream.
    const now = etEvents(proc).at(-1) as number;
    expect(now - et).toBeGreaterThanOrEqual(0);
    expect(now - et).toBeLessThanOrEqual(1);
    et = now;
  }
  expect(warnings(coord)).toEqual([]);
});
