// A checkpoint requested while the application is inside
// dmtcp_disable_ckpt()/dmtcp_enable_ckpt() waits for the section to end: the
// round begins during the section, `dmtcp command -c` returns only after the
// section's end marker, and the process restarted from that image holds a
// whole record and does not finish a section it was never in.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, expect, test } from 'vitest';
import { Proc, checkpointImages, childEnv, cleanup, launch, restart, startCoordinator } from '@dmtcp/core/testing';

const pkgRoot = fileURLToPath(new URL('..', import.meta.url));
const APP = path.join(pkgRoot, 'build', 'bin', 'applic-delayed');

afterEach(cleanup);

interface Attempt {
  section: number;
  images: string[];
  /** When the test saw the coordinator start the round (an upper bound of when it started). */
  roundSeen: number;
  /** When `dmtcp command -c` returned. */
  returned: number;
  /** The application's own clock at the section's begin and end markers. */
  begin: number;
  end: number;
}

test('a checkpoint requested inside the critical section completes only after it, and the restarted record is whole', async () => {
  const coord = await startCoordinator();
  const proc = launch(APP, ['0', '1000', '300'], coord);
  await proc.waitForLine(/^dmtcp is present$/);

  // Ask for a checkpoint as soon as a section begins. The request goes
  // through a freshly started CLI; on a very slow machine it may only reach
  // the coordinator after the section, which proves nothing, so try again.
  let attempt: Attempt | undefined;
  for (let tries = 0; tries < 3 && !attempt; tries++) {
    const { match, index } = await proc.waitForLine(/^section begin (\d+) at (\d+)$/, 20_000, { after: proc.mark() });
    const section = Number(match[1]);
    const begin = Number(match[2]);
    const coordMark = coord.proc.mark();
    const requested = checkpointImages(coord);
    requested.catch(() => {}); // awaited below
    await coord.proc.waitForLine(/^checkpoint generation \d+ started/, 20_000, { after: coordMark });
    const roundSeen = Date.now();
    const { images } = await requested;
    const returned = Date.now();
    const endLine = await proc.waitForLine(new RegExp(`^section end ${section} at (\\d+)$`), 20_000, { after: index });
    const end = Number(endLine.match[1]);
    expect(images).toHaveLength(1);
    if (roundSeen < end) attempt = { section, images, roundSeen, returned, begin, end };
  }
  expect(attempt, 'the checkpoint request never reached the coordinator during a section').toBeDefined();
  const { section, images, roundSeen, returned, begin, end } = attempt as Attempt;
  // The section lasts about a second, and the checkpoint waited it out.
  expect(end - begin).toBeGreaterThanOrEqual(1000);
  expect(roundSeen).toBeLessThan(end);
  expect(returned).toBeGreaterThanOrEqual(end);

  // The process goes on after the checkpoint; then it dies.
  await proc.waitForLine(new RegExp(`^section end ${section + 1} at \\d+$`));
  await proc.kill9();
  expect(proc.lines().filter((l) => l.includes('TORN'))).toEqual([]);

  // The image was taken after the section: the restarted process does not
  // finish section `section`, it checks the record that section left, finds
  // it whole, and starts the next section.
  const back = restart(images, coord);
  await back.waitForLine(new RegExp(`^section end ${section + 1} at \\d+$`));
  const lines = back.lines();
  expect(lines[0]).toBe(`record ${section} whole`);
  expect(lines[1]).toMatch(new RegExp(`^section begin ${section + 1} at \\d+$`));
  expect(lines.filter((l) => /^section end /.test(l))).toEqual([expect.stringMatching(new RegExp(`^section end ${section + 1} `))]);
  await back.waitForLine(new RegExp(`^record ${section + 1} whole$`));
});

test('without dmtcp the same program runs its sections and ends', async () => {
  const proc = new Proc([APP, '2', '50', '10'], { env: childEnv(), label: 'applic-delayed (no dmtcp)' });
  const status = await proc.waitForExit(20_000);
  expect(status, proc.describe()).toEqual({ code: 0, signal: null });
  const shape = proc.lines().map((l) => l.replace(/ at \d+$/, ''));
  expect(shape).toEqual([
    'dmtcp is not present',
    'record 0 whole', 'section begin 1', 'section end 1',
    'record 1 whole', 'section begin 2', 'section end 2',
    'record 2 whole, done',
  ]);
});
