// Datagram and message sockets in one process with about ten messages
// queued on each at every checkpoint (test/fixtures/dgrams.c): UDP over
// IPv4 (one end connected) and IPv6, a Unix SOCK_DGRAM socketpair, a Unix
// SOCK_SEQPACKET socketpair and a SEQPACKET connection accepted in the
// process, both ways, and a sender bound to a path it
// removed writing to an abstract name. Every message must arrive exactly
// once, in order, with its length and its sender's address (a BAD line
// otherwise), after a plain resume and after each of 3 kill -9 restarts,
// as root and as nobody, and the plugin says nothing.
import { afterEach, expect, test } from 'vitest';
import { checkpointImages, cleanup, launch, makeTmpDir, restart, startCoordinator, waitForProcesses, type Proc, type RunAs } from '@dmtcp/core/testing';
import { BUILTINS, fixture, socketMessages, warnings } from './helpers.ts';

afterEach(cleanup);

const CHANNELS = ['udp4', 'udp4r', 'udp6', 'unixd', 'seqp', 'seqpr', 'seqa', 'seqar', 'named'];

interface Counts {
  sent: number;
  recv: number;
}

function counts(p: Proc): Map<string, Counts> {
  const out = new Map<string, Counts>();
  for (const l of p.lines()) for (const m of l.matchAll(/ (\w+) sent (\d+) recv (\d+)/g)) out.set(m[1]!, { sent: Number(m[2]), recv: Number(m[3]) });
  return out;
}

const bad = (p: Proc): string[] => p.lines().filter((l) => l.startsWith('BAD'));

/** Until every channel has received past what it had sent at `at`. */
function pastAll(p: Proc, at: Map<string, Counts>, what: string): Promise<unknown> {
  return p.waitUntil(() => (CHANNELS.every((c) => (counts(p).get(c)?.recv ?? 0) > at.get(c)!.sent) ? true : undefined), what);
}

for (const user of [undefined, 'nobody'] as const) {
  const as: { user?: RunAs } = user ? { user } : {};
  test(`queued datagrams and messages: exactly once, in order, from their senders, over 3 restarts${user ? ' as nobody' : ''}`, async () => {
    const exe = await fixture('dgrams.c');
    const dir = await makeTmpDir('dmtcp-dgram-');
    const coord = await startCoordinator();
    let proc = launch(exe, [dir], { ...coord, env: BUILTINS, ...as });
    await waitForProcesses(coord.port, 1);
    await proc.waitUntil(() => (CHANNELS.every((c) => (counts(proc).get(c)?.recv ?? 0) > 0) ? true : undefined), 'every channel receiving');
    for (let cycle = 1; cycle <= 3; cycle++) {
      const ckpt = await checkpointImages(coord);
      expect(ckpt.images).toHaveLength(1);
      const atCkpt = counts(proc);
      // Queued at the checkpoint: what the restart has to bring back.
      for (const c of CHANNELS) expect(atCkpt.get(c)!.sent - atCkpt.get(c)!.recv, c).toBeGreaterThanOrEqual(9);
      await pastAll(proc, atCkpt, `cycle ${cycle}: resumed past the checkpoint`);
      expect(bad(proc), proc.describe()).toEqual([]);
      await proc.kill9();
      await waitForProcesses(coord.port, 0);
      proc = restart(ckpt.images, { ...coord, env: BUILTINS, ...as });
      await pastAll(proc, atCkpt, `cycle ${cycle}: restarted past the checkpoint`);
      expect(bad(proc), proc.describe()).toEqual([]);
      expect(socketMessages(proc), proc.describe()).toEqual([]);
    }
    expect(warnings(coord)).toEqual([]);
  });
}
