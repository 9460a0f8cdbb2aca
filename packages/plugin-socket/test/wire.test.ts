// The barrier names and sizes of native/socket_wire.h reach the coordinator
// module through src/generated/wire.ts, generated at build: this fails when
// that file is stale, or when a policy uses another name.
import { fileURLToPath } from 'node:url';
import { runGenerator } from '@dmtcp/core/gen-constants';
import { expect, test } from 'vitest';
import plugin from '../src/coordinator.ts';
import * as wire from '../src/generated/wire.ts';

const pkg = fileURLToPath(new URL('..', import.meta.url));

test('src/generated/wire.ts is up to date with native/socket_wire.h', () => {
  const errors: string[] = [];
  const status = runGenerator(['native/socket_wire.h', '-o', 'src/generated/wire.ts', '--check'], { cwd: pkg, err: (l) => errors.push(l) });
  expect(errors).toEqual([]);
  expect(status).toBe(0);
});

test('the coordinator module answers exactly the barriers the header names', () => {
  expect(Object.keys(plugin.policies ?? {}).sort()).toEqual([wire.SOCKET_BARRIER_ADDRS, wire.SOCKET_BARRIER_PEERS].sort());
});
