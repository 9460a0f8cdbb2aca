// A connection whose peer is outside the computation cannot come back: the
// program must see it reset (poll: POLLHUP/POLLERR; read: ECONNRESET on
// TCP, end of file on Unix), never a hang or a closed number, and the
// plugin says so in one line per descriptor. The fixture reconnects after
// each reset, so every one of the 3 cycles starts with live connections
// to this test's servers.
import { chmodSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterEach, expect, test } from 'vitest';
import { checkpointKillRestart, cleanup, launch, makeTmpDir, startCoordinator, type RunAs } from '@dmtcp/core/testing';
import { BUILTINS, fixture, socketMessages, warnings } from './helpers.ts';

const servers: net.Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) s.close();
  await cleanup();
});

/** A server that accepts and keeps every connection open, saying nothing. */
function serve(listenOn: number | string): Promise<net.Server> {
  const held: net.Socket[] = [];
  const s = net.createServer((c) => {
    c.on('error', () => undefined);
    held.push(c);
  });
  servers.push(s);
  s.on('close', () => held.forEach((c) => c.destroy()));
  // The fixture may run as nobody: connecting to a Unix socket needs write permission.
  return new Promise((resolve) => s.listen(listenOn, () => {
    if (typeof listenOn === 'string') chmodSync(listenOn, 0o777);
    resolve(s);
  }));
}

for (const user of [undefined, 'nobody'] as const) {
  test(`connections to servers outside the computation read as reset after each of 3 restarts${user ? ' as nobody' : ''}`, async () => {
    const exe = await fixture('outside.c');
    const dir = await makeTmpDir('dmtcp-socket-');
    const tcp = await serve(0);
    const sock = path.join(dir, 'outside.sock');
    await serve(sock);
    const port = (tcp.address() as net.AddressInfo).port;
    const coord = await startCoordinator();
    const as: { user?: RunAs } = user ? { user } : {};
    let proc = launch(exe, [String(port), sock], { ...coord, env: BUILTINS, ...as });
    const fds = (await proc.waitForLine(/^connected (\d+) (\d+)$/)).match;
    await proc.waitForLine(/^tick 3$/);
    for (let cycle = 1; cycle <= 3; cycle++) {
      const r = await checkpointKillRestart(proc, /^tick (\d+)$/, coord, { env: BUILTINS, ...as, linesAfterRestart: 3 });
      proc = r.proc;
      await proc.waitForLine(/^unix reconnected$/);
      await proc.waitForLine(/^tcp reconnected$/);
      const resets = proc.lines().filter((l) => l.includes(' reset '));
      expect(resets.sort(), proc.describe()).toEqual([
        'tcp reset hup=1 err=1 read=-1 errno=ECONNRESET',
        'unix reset hup=1 err=0 read=0 errno=0',
      ]);
      const said = socketMessages(proc);
      expect(said, proc.describe()).toHaveLength(2);
      expect(said[0]).toMatch(new RegExp(`^dmtcp socket: fd (${fds[1]}|${fds[2]}) \\((tcp|unix) connection from .*\\): its peer is not part of the restart; it reads as reset$`));
      expect(said[1]).toMatch(/its peer is not part of the restart; it reads as reset$/);
    }
    expect(warnings(coord)).toEqual([]);
  });
}
