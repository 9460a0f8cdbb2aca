// The reader's field offsets are written by hand; this compiles a probe
// against include/dmtcp/image.h and compares every one with the C compiler's.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  HEADER_FIELDS,
  HEADER_STRUCT_SIZE,
  REGION_FIELDS,
  REGION_STRUCT_SIZE,
  RUN_FIELDS,
  RUN_STRUCT_SIZE,
} from '../src/image/reader.ts';
import type { FieldSpec } from '../src/image/reader.ts';
import { paths } from '../src/paths.ts';

const imageH = path.join(paths.includeDir, 'dmtcp', 'image.h');
const structs: Array<[string, Record<string, FieldSpec>, number]> = [
  ['dmtcp_image_header', HEADER_FIELDS, HEADER_STRUCT_SIZE],
  ['dmtcp_image_region', REGION_FIELDS, REGION_STRUCT_SIZE],
  ['dmtcp_image_run', RUN_FIELDS, RUN_STRUCT_SIZE],
];

const dir = mkdtempSync(path.join(tmpdir(), 'dmtcp-layout-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Probe {
  [struct: string]: { size: number; fields: Record<string, { offset: number; size: number }> };
}

function runProbe(): Probe {
  const lines: string[] = [
    '#include <stddef.h>',
    '#include <stdio.h>',
    '#include "dmtcp/image.h"',
    'int main(void) {',
    '  printf("{");',
  ];
  structs.forEach(([name, fields], si) => {
    lines.push(`  printf("%s\\"${name}\\":{\\"size\\":%zu,\\"fields\\":{", ${si ? '","' : '""'}, sizeof(struct ${name}));`);
    Object.keys(fields).forEach((f, fi) => {
      lines.push(
        `  printf("%s\\"${f}\\":{\\"offset\\":%zu,\\"size\\":%zu}", ${fi ? '","' : '""'}, ` +
          `offsetof(struct ${name}, ${f}), sizeof(((struct ${name} *)0)->${f}));`,
      );
    });
    lines.push('  printf("}}");');
  });
  lines.push('  printf("}\\n");', '  return 0;', '}');
  const src = path.join(dir, 'probe.c');
  const exe = path.join(dir, 'probe');
  writeFileSync(src, lines.join('\n'));
  execFileSync(process.env['CC'] ?? 'cc', ['-std=gnu11', '-Wall', '-Werror', '-I', paths.includeDir, '-o', exe, src], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  return JSON.parse(execFileSync(exe, { encoding: 'utf8' })) as Probe;
}

/** Member names declared in `struct NAME { ... };` of image.h. */
function declaredMembers(name: string): string[] {
  const text = readFileSync(imageH, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '');
  const m = new RegExp(`struct\\s+${name}\\s*\\{([^}]*)\\}`).exec(text);
  if (!m) throw new Error(`struct ${name} not found in ${imageH}`);
  return (m[1] as string)
    .split(';')
    .map((d) => d.trim())
    .filter(Boolean)
    .map((d) => /([A-Za-z_]\w*)\s*(\[[^\]]*\])?$/.exec(d)?.[1] ?? d);
}

describe('image layout', () => {
  const probe = runProbe();

  for (const [name, fields, size] of structs) {
    it(`struct ${name}: the reader knows every member`, () => {
      expect(Object.keys(fields)).toEqual(declaredMembers(name));
    });
    it(`struct ${name}: offsets and sizes match the C compiler`, () => {
      const c = probe[name];
      expect(c).toBeDefined();
      expect(c?.size).toBe(size);
      expect(c?.fields).toEqual(fields);
    });
  }
});
