// A NETLINK_ROUTE socket bound to the link group (test/fixtures/netlink.c)
// through 3 checkpoint / kill -9 / restart cycles, as root and as nobody:
// after each restart the same number is a netlink socket of the same
// protocol with the same groups, and the fixture's next RTM_GETLINK dump
// through it is answered; if_nameindex and getaddrinfo(AI_ADDRCONFIG) keep
// working.
import { afterEach, expect, test } from 'vitest';
import { checkpointKillRestart, cleanup, launch, startCoordinator, type Proc, type RunAs } from '@dmtcp/core/testing';
import { BUILTINS, fixture, socketMessages } from './helpers.ts';

afterEach(cleanup);

const TICK = /^tick (\d+) links (\d+)/;

function bad(proc: Proc): string[] {
  return proc.lines().filter((l) => l.startsWith('BAD'));
}

for (const user of [undefined, 'nobody'] as const) {
  test(`a held NETLINK_ROUTE socket answers requests after 3 restarts${user ? ' as nobody' : ''}`, async () => {
    const exe = await fixture('netlink.c');
    const coord = await startCoordinator();
    const as: { user?: RunAs } = user ? { user } : {};
    let proc = launch(exe, [], { ...coord, env: BUILTINS, ...as });
    await proc.waitForLine(/^netlink (\d+)$/);
    await proc.waitForLine(/^tick 3 /);
    for (let cycle = 1; cycle <= 3; cycle++) {
      const r = await checkpointKillRestart(proc, TICK, coord, { env: BUILTINS, ...as, linesAfterRestart: 3 });
      proc = r.proc;
      expect(proc.lines().filter((l) => / links 0$/.test(l))).toEqual([]);
      expect(bad(proc), proc.describe()).toEqual([]);
      expect(socketMessages(proc), proc.describe()).toEqual([]);
    }
  });
}
