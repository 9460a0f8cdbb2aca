// A restart that cannot proceed ends with a reason instead of hanging: here
// the coordinator answers `dmtcp restart`'s probe but never the restarted
// process (a hung coordinator, simulated by a silent proxy in front of the
// real one). The restarted process must exit non-zero within seconds, naming
// its image and what it was waiting for.
import net from 'node:net';
import { afterEach, expect, test } from 'vitest';
import {
  checkpointImages, cleanup, compileFixture, coreFixture, kill9, launch, restart, startCoordinator,
} from '../src/testing/index.ts';

afterEach(cleanup);

/** Forwards the first connection to the coordinator; later ones are accepted and never answered. */
async function silentAfterProbe(coordPort: number): Promise<{ port: number; close(): void }> {
  const sockets: net.Socket[] = [];
  let seen = 0;
  const server = net.createServer((sock) => {
    sockets.push(sock);
    sock.on('error', () => {});
    if (seen++ > 0) {
      sock.resume(); // read and drop
      return;
    }
    const up = net.connect({ host: '127.0.0.1', port: coordPort });
    sockets.push(up);
    up.on('error', () => sock.destroy());
    sock.pipe(up);
    up.pipe(sock);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new Error('proxy has no port');
  return {
    port: addr.port,
    close() {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

test('restart against a coordinator that never answers exits within seconds with the reason', async () => {
  const exe = await compileFixture(coreFixture('counter.c'));
  const coord = await startCoordinator();
  const proc = launch(exe, [], coord);
  await proc.waitForLine(/^count 3$/);
  const { images } = await checkpointImages(coord);
  await kill9(proc);

  const proxy = await silentAfterProbe(coord.port);
  try {
    const started = Date.now();
    const next = restart(images, { port: proxy.port, env: { DMTCP_RESTART_TIMEOUT: '2' } });
    const st = await next.waitForExit(20_000);
    const took = Date.now() - started;
    expect(st, next.describe()).toEqual({ code: 1, signal: null });
    const reason = next.stderr().trim().split('\n').filter((l) => l.startsWith('dmtcp restart: '));
    expect(reason, next.describe()).toEqual([
      `dmtcp restart: ${images[0]}: registering with the coordinator did not finish within 2 s; giving up (DMTCP_RESTART_TIMEOUT)`,
    ]);
    expect(took).toBeLessThan(15_000);
    expect(next.lines().filter((l) => l.startsWith('count'))).toEqual([]);
  } finally {
    proxy.close();
  }
});
