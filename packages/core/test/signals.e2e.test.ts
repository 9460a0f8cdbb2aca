// Signal dispositions and the blocked mask are process state that a restart
// must bring back: a counting SIGUSR1 handler and a blocked SIGUSR2.
import { afterEach, expect, test } from 'vitest';
import { checkpointImages, cleanup, compileFixture, coreFixture, kill9, launch, restart, startCoordinator, type Proc } from '../src/testing/index.ts';

const STATE = /^STATE usr1=(\d+) usr2_pending=(\d) usr2_blocked=(\d) handler=(\w+) tick=\d+$/;

afterEach(cleanup);

interface State {
  usr1: number;
  pending: boolean;
  blocked: boolean;
  handler: string;
}

function stateOf(line: string): State | undefined {
  const m = STATE.exec(line);
  if (!m) return undefined;
  return { usr1: Number(m[1]), pending: m[2] === '1', blocked: m[3] === '1', handler: m[4] as string };
}

/** The first state line printed after `after` that satisfies `ok`. */
async function waitForState(proc: Proc, what: string, ok: (s: State) => boolean): Promise<State> {
  let next = proc.mark();
  return proc.waitUntil(() => {
    const lines = proc.lines();
    for (; next < lines.length; next++) {
      const s = stateOf(lines[next] as string);
      if (s && ok(s)) return s;
    }
    return undefined;
  }, `waiting for ${what}`);
}

test('signals: SIGUSR1 handler and blocked SIGUSR2 survive 2 restarts', async () => {
  const exe = await compileFixture(coreFixture('signals.c'));
  const coord = await startCoordinator();
  let proc = launch(exe, [], coord);
  await proc.waitForLine(STATE);
  proc.signal('SIGUSR1');
  await waitForState(proc, 'usr1=1', (s) => s.usr1 === 1);
  proc.signal('SIGUSR1');
  await waitForState(proc, 'usr1=2', (s) => s.usr1 === 2);

  let expected = 2;
  for (let cycle = 1; cycle <= 2; cycle++) {
    const { images } = await checkpointImages(coord);
    expect(images).toHaveLength(1);
    await waitForState(proc, 'a state line after the checkpoint', () => true);
    await kill9(proc);

    proc = restart(images, coord);
    const first = stateOf((await proc.waitForLine(STATE, 30_000)).line) as State;
    expect(first, 'state right after restart').toEqual({ usr1: expected, pending: false, blocked: true, handler: 'ok' });

    // the handler is really installed in the kernel: a delivery is counted, not fatal
    proc.signal('SIGUSR1');
    const counted = await waitForState(proc, `usr1=${expected + 1}`, (s) => s.usr1 !== expected);
    expected += 1;
    expect(counted).toEqual({ usr1: expected, pending: false, blocked: true, handler: 'ok' });
  }

  // the mask is really installed: SIGUSR2 (default action: terminate) stays pending
  proc.signal('SIGUSR2');
  const pending = await waitForState(proc, 'usr2_pending=1', (s) => s.pending);
  expect(pending).toEqual({ usr1: expected, pending: true, blocked: true, handler: 'ok' });
  proc.signal('SIGUSR1');
  const still = await waitForState(proc, `usr1=${expected + 1}`, (s) => s.usr1 !== expected);
  expect(still).toEqual({ usr1: expected + 1, pending: true, blocked: true, handler: 'ok' });
  expect(proc.running).toBe(true);
});
