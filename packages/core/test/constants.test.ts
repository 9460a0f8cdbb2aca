// The TypeScript mirror of protocol.h/image.h against a compiled C probe: if
// the header changes and the generated constants or the codec's offsets do
// not follow, this fails.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as C from '../src/generated/constants.ts';
import { encodeFrame, HEADER_LAYOUT, HEADER_SIZE } from '../src/protocol/codec.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const genScript = path.join(root, 'scripts', 'gen-constants.mjs');
const hasCc = spawnSync('cc', ['--version']).status === 0;

interface ProbeOutput {
  sizeof_hdr: number;
  fields: Record<string, { offset: number; size: number }>;
  constants: Record<string, number | string>;
  sample_hex: string;
}

const FIELDS = Object.keys(HEADER_LAYOUT);
/** The #define constants; record lists and parsers are checked in records.test.ts. */
const SCALARS = Object.entries(C).filter(([, v]) => typeof v === 'string' || typeof v === 'number' || typeof v === 'bigint');

function probeSource(): string {
  const lines: string[] = [];
  for (const [name, value] of SCALARS) {
    if (typeof value === 'string') lines.push(`  sep(); printf("\\"${name}\\": "); json_str(${name});`);
    else lines.push(`  sep(); printf("\\"${name}\\": %lld", (long long)(${name}));`);
  }
  const fields = FIELDS.map((f, i) =>
    `  printf("%s\\"${f}\\": {\\"offset\\": %zu, \\"size\\": %zu}", ${i ? '", "' : '""'}, offsetof(struct dmtcp_msg_hdr, ${f}), sizeof(((struct dmtcp_msg_hdr *)0)->${f}));`);
  return `#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include "dmtcp/protocol.h"
#include "dmtcp/image.h"
#include "dmtcp/plugin.h"
#include "dmtcp/records.h"

static int first = 1;
static void sep(void) { if (!first) printf(", "); first = 0; }
static void json_str(const char *s) {
  putchar('"');
  for (; *s; s++) {
    if (*s == '"' || *s == '\\\\') printf("\\\\%c", *s);
    else if ((unsigned char)*s < 0x20) printf("\\\\u%04x", *s);
    else putchar(*s);
  }
  putchar('"');
}

int main(void) {
  printf("{\\"sizeof_hdr\\": %zu, \\"fields\\": {", sizeof(struct dmtcp_msg_hdr));
${fields.join('\n')}
  printf("}, \\"constants\\": {");
${lines.join('\n')}
  printf("}, \\"sample_hex\\": \\"");
  struct dmtcp_msg_hdr h;
  memset(&h, 0, sizeof h);
  h.magic = DMTCP_MSG_MAGIC;
  h.version = DMTCP_PROTOCOL_VERSION;
  h.type = DMT_BARRIER;
  h.payload_len = 3;
  h.extra = 0x01020304u;
  h.generation = 0x1122334455667788ull;
  h.upid = 0x0000000000000abcull;
  h.comp_id = 0xfedcba9876543210ull;
  strcpy(h.name, DMTCP_BARRIER_WRITTEN);
  for (size_t i = 0; i < sizeof h; i++) printf("%02x", ((unsigned char *)&h)[i]);
  printf("\\"}\\n");
  return 0;
}
`;
}

describe.skipIf(!hasCc)('protocol constants and header layout against C', () => {
  let dir = '';
  let probe: ProbeOutput;

  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'dmtcp-constants-'));
    const src = path.join(dir, 'probe.c');
    const exe = path.join(dir, 'probe');
    writeFileSync(src, probeSource());
    execFileSync('cc', ['-std=gnu11', '-Wall', '-Werror', '-I', path.join(root, 'include'), '-o', exe, src], { stdio: 'pipe' });
    probe = JSON.parse(execFileSync(exe, { encoding: 'utf8' })) as ProbeOutput;
  });

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('has the header size the codec uses', () => {
    expect(probe.sizeof_hdr).toBe(HEADER_SIZE);
    expect(probe.sizeof_hdr).toBe(C.DMTCP_MSG_HDR_SIZE);
  });

  it('has every field where the codec reads and writes it', () => {
    expect(probe.fields).toEqual(HEADER_LAYOUT);
    // No gaps and no overlap: the layout covers the whole header.
    const spans = Object.values(HEADER_LAYOUT).sort((a, b) => a.offset - b.offset);
    let at = 0;
    for (const s of spans) {
      expect(s.offset).toBe(at);
      at += s.size;
    }
    expect(at).toBe(HEADER_SIZE);
  });

  it('agrees on the value of every generated constant', () => {
    const expected = Object.fromEntries(SCALARS);
    expect(probe.constants).toEqual(expected);
  });

  it('encodes a header byte for byte like the C struct', () => {
    const frame = encodeFrame({
      type: C.DMT_BARRIER,
      extra: 0x01020304,
      generation: 0x1122334455667788n,
      upid: 0xabcn,
      compId: 0xfedcba9876543210n,
      name: C.DMTCP_BARRIER_WRITTEN,
      payload: Buffer.from('abc'),
    });
    expect(frame.subarray(0, HEADER_SIZE).toString('hex')).toBe(probe.sample_hex);
  });
});

describe('generated constants', () => {
  it('are up to date with the headers', () => {
    const r = spawnSync(process.execPath, [genScript, '--check'], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('include every DMT_* message type of protocol.h', () => {
    const header = readFileSync(path.join(root, 'include', 'dmtcp', 'protocol.h'), 'utf8');
    const names = [...header.matchAll(/^#define\s+(DMT_\w+)\s/gm)].map((m) => m[1]);
    expect(names.length).toBeGreaterThan(10);
    for (const n of names) expect(C).toHaveProperty(n as string);
  });

  it('evaluate the expressions a header may use and skip what they cannot', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'dmtcp-gen-'));
    try {
      const h = path.join(dir, 't.h');
      writeFileSync(h, [
        '#ifndef T_H',
        '#define T_H',
        '#define A 0x10u /* sixteen */',
        '#define B (A + 0)',
        '#define C (4u * 1024u * 1024u)',
        '#define D ((1 << 3) | 0x1)',
        '#define E "a/*b" /* text */',
        '#define F "x" "y"',
        '#define G(x) ((x) + 1)',
        '#define H (sizeof(int))',
        '#define I 010',
        '#define J -2',
        '#define K \\',
        '  (B - 1)',
        '#define L 0xffffffffffffffffull',
        '/* #define M 1',
        '   still a comment */',
        '#define N 7 // line comment',
        '#endif',
      ].join('\n'));
      const out = execFileSync(process.execPath, [genScript, '--stdout', h], { encoding: 'utf8' });
      const consts = Object.fromEntries([...out.matchAll(/^export const (\w+) = (.*);$/gm)].map((m) => [m[1], m[2]]));
      expect(consts).toEqual({
        A: '0x10',
        B: '16',
        C: '4194304',
        D: '9',
        E: '"a/*b"',
        F: '"xy"',
        I: '8',
        J: '-2',
        K: '15',
        L: '18446744073709551615n',
        N: '7',
      });
      expect(out).toMatch(/\/\*\* sixteen \*\/\nexport const A/);
      expect(out).toMatch(/^\/\/ Generated/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
