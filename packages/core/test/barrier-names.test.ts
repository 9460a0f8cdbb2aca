// The core's barrier names are spelled once, in protocol.h: neither the
// runtime's C nor the coordinator's TypeScript may carry its own literal.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';
import * as C from '../src/generated/constants.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const LITERAL = /["'](?:ckpt|restart):[a-z-]+["']/g;

function files(dir: string, ext: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...files(p, ext));
    else if (e.name.endsWith(ext)) out.push(p);
  }
  return out;
}

function literals(list: string[]): string[] {
  return list.flatMap((f) => [...readFileSync(f, 'utf8').matchAll(LITERAL)].map((m) => `${path.relative(root, f)}: ${m[0]}`));
}

test('barrier names come from protocol.h only', () => {
  const c = literals(files(path.join(root, 'native'), '.c'));
  const ts = literals(files(path.join(root, 'src'), '.ts').filter((f) => !f.includes(`${path.sep}generated${path.sep}`)));
  expect([...c, ...ts]).toEqual([]);
});

test('protocol.h names every barrier of a checkpoint and a restart', () => {
  const names = Object.entries(C).filter(([k]) => k.startsWith('DMTCP_BARRIER_')).map(([, v]) => v);
  expect(names).toEqual([
    'ckpt:suspended', 'ckpt:leader-election', 'ckpt:drained', 'ckpt:refilled', 'ckpt:registered', 'ckpt:written',
    'ckpt:resumed', 'restart:connected', 'restart:refilled', 'restart:registered', 'restart:done',
  ]);
});
