// An interpreter, not a C fixture: python3 printing an increasing counter
// survives two checkpoint / kill -9 / restart cycles.
import { existsSync } from 'node:fs';
import { afterEach, test } from 'vitest';
import { checkpointKillRestart, cleanup, launch, startCoordinator } from '../src/testing/index.ts';

// The distribution's interpreter: a shim from a version manager would be
// checkpointed as a shell script wrapping the real one.
const PYTHON = ['/usr/bin/python3', '/usr/local/bin/python3'].find((p) => existsSync(p)) ?? 'python3';
const SCRIPT = [
  'import time',
  'i = 0',
  'while True:',
  '    i += 1',
  "    print('py', i, flush=True)",
  '    time.sleep(0.05)',
].join('\n');
const PY = /^py (\d+)$/;

afterEach(cleanup);

test('python3 loop: 2 cycles of checkpoint, kill -9, restart', async () => {
  const coord = await startCoordinator();
  let proc = launch(PYTHON, ['-u', '-c', SCRIPT], coord);
  await proc.waitForLine(/^py 5$/, 30_000);
  for (let cycle = 1; cycle <= 2; cycle++) {
    proc = (await checkpointKillRestart(proc, PY, coord)).proc;
  }
});
