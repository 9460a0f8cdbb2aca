// The barrier and call names and record sizes of native/file_wire.h reach the
// coordinator module through src/generated/wire.ts, generated at build: this
// fails when that file is stale, or when a policy uses another name.
import { fileURLToPath } from 'node:url';
import { runGenerator } from '@dmtcp/core/gen-constants';
import { expect, test } from 'vitest';
import plugin from '../src/coordinator.ts';
import * as wire from '../src/generated/wire.ts';

const pkg = fileURLToPath(new URL('..', import.meta.url));

test('src/generated/wire.ts is up to date with native/file_wire.h', () => {
  const errors: string[] = [];
  const status = runGenerator(['native/file_wire.h', '-o', 'src/generated/wire.ts', '--check'], { cwd: pkg, err: (l) => errors.push(l) });
  expect(errors).toEqual([]);
  expect(status).toBe(0);
});

test('the coordinator module answers exactly the barriers and calls the header names', () => {
  expect(Object.keys(plugin.policies ?? {}).sort()).toEqual([wire.FILE_BARRIER_DRAIN, wire.FILE_BARRIER_RESTORE_CONTENTS, wire.FILE_BARRIER_SHARE].sort());
  expect(Object.keys(plugin.calls ?? {})).toEqual([wire.FILE_CALL_MISSING]);
  for (const name of [wire.FILE_BARRIER_DRAIN, wire.FILE_BARRIER_RESTORE_CONTENTS, wire.FILE_BARRIER_SHARE, wire.FILE_CALL_MISSING]) {
    expect(name).toMatch(/^file:[a-z-]+$/);
  }
});
