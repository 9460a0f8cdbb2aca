// python3's selectors (DefaultSelector: an epoll set) over a pipe pair made
// with os.pipe, and signal.set_wakeup_fd with a SIGUSR1 handler (the C
// handler writes the signal number into a second, non-blocking pipe that
// the selector also watches), through 3 checkpoint / kill -9 / restart
// cycles.  Each tick writes one message into the pipe and the selector
// loop reads it; after each restart the test sends SIGUSR1 and the program
// must see it both in its handler and as one byte on the wakeup pipe.
import { execFileSync } from 'node:child_process';
import { afterEach, expect, test } from 'vitest';
import { checkpointKillRestart, cleanup, launch, startCoordinator, type Proc } from '@dmtcp/core/testing';
import { BUILTINS, eventMessages, warnings } from './helpers.ts';

afterEach(cleanup);

const PROGRAM = `
import os, selectors, signal, sys, time
r, w = os.pipe()
wr, ww = os.pipe()
os.set_blocking(wr, False)
os.set_blocking(ww, False)
handled = 0
def on_usr1(signum, frame):
    global handled
    handled += 1
signal.signal(signal.SIGUSR1, on_usr1)
signal.set_wakeup_fd(ww)
sel = selectors.DefaultSelector()
sel.register(r, selectors.EVENT_READ, 'pipe')
sel.register(wr, selectors.EVENT_READ, 'wakeup')
print('selector ' + type(sel).__name__, flush=True)
tick = 0
got = 0
woken = 0
last = time.monotonic()
while True:
    now = time.monotonic()
    if now - last >= 0.05:
        last = now
        tick += 1
        os.write(w, b'%d\\n' % tick)
    for key, _ in sel.select(timeout=0.05):
        if key.data == 'pipe':
            for line in os.read(r, 4096).split():
                got += 1
                if int(line) != got:
                    print('BAD message %s, expected %d' % (line, got), flush=True)
            print('tick %d got %d signals %d woken %d' % (tick, got, handled, woken), flush=True)
        else:
            data = os.read(wr, 64)
            for b in data:
                if b != signal.SIGUSR1:
                    print('BAD wakeup byte %d' % b, flush=True)
            woken += len(data)
`;
const TICK = /^tick (\d+) /;
const LINE = /^tick (\d+) got (\d+) signals (\d+) woken (\d+)$/;

function python(): string | undefined {
  try {
    execFileSync('python3', ['-c', 'import selectors'], { stdio: 'ignore' });
    return 'python3';
  } catch {
    return undefined;
  }
}

function last(proc: Proc): { tick: number; got: number; signals: number; woken: number } | undefined {
  expect(proc.lines().filter((l) => l.startsWith('BAD')), proc.describe()).toEqual([]);
  const m = proc.lines().map((l) => LINE.exec(l)).filter((x) => x !== null).at(-1);
  if (!m) return undefined;
  const [tick, got, signals, woken] = m.slice(1).map(Number) as [number, number, number, number];
  return { tick, got, signals, woken };
}

async function signalAndWait(proc: Proc, want: number): Promise<void> {
  proc.signal('SIGUSR1');
  await proc.waitUntil(() => {
    const r = last(proc);
    return r && r.signals >= want && r.woken >= want ? true : undefined;
  }, `SIGUSR1 number ${want} handled and on the wakeup pipe`, 20_000);
  const r = last(proc);
  expect(r && { signals: r.signals, woken: r.woken }, proc.describe()).toEqual({ signals: want, woken: want });
}

const py = python();
// Skipped (with this reason) only off CI: there python3 is part of the machine.
if (py === undefined && process.env['CI']) throw new Error('python3 with selectors is required in CI');

test.skipIf(py === undefined)('python3 selectors over os.pipe and signal.set_wakeup_fd go on after 3 restarts, counts exact', async () => {
  const coord = await startCoordinator();
  let proc = launch(py as string, ['-c', PROGRAM], { ...coord, env: BUILTINS });
  await proc.waitForLine(/^tick 3 /);
  expect(proc.lines()).toContain('selector EpollSelector');
  await signalAndWait(proc, 1);
  for (let cycle = 1; cycle <= 3; cycle++) {
    proc = (await checkpointKillRestart(proc, TICK, coord, { env: BUILTINS, linesAfterRestart: 10 })).proc;
    // Every message written before and after the checkpoint is read once, in order (got counts them, BAD otherwise).
    const r = last(proc);
    expect(r && r.tick - r.got, proc.describe()).toBeLessThanOrEqual(1);
    await signalAndWait(proc, cycle + 1);
    expect(eventMessages(proc), proc.describe()).toEqual([]);
  }
  expect(warnings(coord)).toEqual([]);
});
