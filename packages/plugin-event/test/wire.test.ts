// The barrier name of native/event_wire.h reaches the coordinator module
// through src/generated/wire.ts, generated at build: this fails when that
// file is stale, or when the module answers another name.
import { fileURLToPath } from 'node:url';
import { runGenerator } from '@dmtcp/core/gen-constants';
import { expect, test } from 'vitest';
import plugin from '../src/coordinator.ts';
import * as wire from '../src/generated/wire.ts';

const pkg = fileURLToPath(new URL('..', import.meta.url));

test('src/generated/wire.ts is up to date with native/event_wire.h', () => {
  const errors: string[] = [];
  const status = runGenerator(['native/event_wire.h', '-o', 'src/generated/wire.ts', '--check'], { cwd: pkg, err: (l) => errors.push(l) });
  expect(errors).toEqual([]);
  expect(status).toBe(0);
});

test('the coordinator module answers exactly the barrier the header names', () => {
  expect(Object.keys(plugin.policies ?? {})).toEqual([wire.EVENT_BARRIER_SHARE]);
  expect(wire.EVENT_BARRIER_SHARE).toMatch(/^event:[a-z-]+$/);
});
