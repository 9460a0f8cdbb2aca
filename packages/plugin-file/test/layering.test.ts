// The native modules call each other in layers (drawn at the top of
// native/file_plugin.h): no cycle between files, kinds reached only through
// the table, the exchange never calling back into the restore loop.
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { buildGraph, findCycle, reaches, readNative, scan } from './native-calls.ts';

const native = fileURLToPath(new URL('../native', import.meta.url));
const { sources, header } = readNative(native);
const { edges, owner } = buildGraph(sources, header);
const kindFiles = sources.filter((s) => /const struct file_kind_ops file_[a-z0-9_]+ =/.test(s.text)).map((s) => s.file);

describe('native layering', () => {
  test('every function the header declares is defined in one file', () => {
    const declared = [...header.matchAll(/DMTCP_HIDDEN[^;(]*?\b(file_[a-z0-9_]+)\s*\(/g)].map(([, name = '']) => name);
    expect(declared.length).toBeGreaterThan(20);
    expect(declared.filter((f) => !owner.has(f))).toEqual([]);
  });

  test('no cycle between files', () => {
    expect(findCycle(edges)).toBeNull();
  });

  test('the restore loop calls the exchange, which never calls back into it', () => {
    expect(edges.get('file_restore.c')?.has('file_share.c')).toBe(true);
    expect(reaches(edges, 'file_share.c', 'file_restore.c')).toBe(false);
  });

  test('every kind has its file, and kinds call no phase and not the table', () => {
    expect(kindFiles.length).toBeGreaterThanOrEqual(5);
    const phases = ['file_plugin.c', 'file_scan.c', 'file_drain.c', 'file_restore.c', 'file_share.c', 'file_kind.c'];
    for (const k of kindFiles) for (const p of phases) expect(reaches(edges, k, p), `${k} -> ${p}`).toBe(false);
  });

  test('the phase script reaches the phases but is called by none', () => {
    for (const p of ['file_scan.c', 'file_drain.c', 'file_restore.c']) expect(edges.get('file_plugin.c')?.has(p)).toBe(true);
    for (const s of sources) expect(edges.get(s.file)?.has('file_plugin.c') ?? false, s.file).toBe(false);
  });
});

describe('the scanner', () => {
  test('finds definitions over several lines, calls in bodies, and nothing in comments or strings', () => {
    const sc = scan(`
/* file_in_comment(1) */
static int file_helper(int a,
                       int b) { return file_other(a) + b; }
long file_entry(void) {
  const char *s = "file_in_string(2)";
  return file_helper(1, 2) + file_more (3);
}
DMTCP_HIDDEN void file_declared(void);
`);
    expect([...sc.defines].sort()).toEqual(['file_entry', 'file_helper']);
    expect([...sc.calls].sort()).toEqual(['file_helper', 'file_more', 'file_other']);
  });

  test('finds a cycle through three files, and one through a header inline', () => {
    const g = buildGraph([
      { file: 'a.c', text: 'void file_a(void) { file_b(); }' },
      { file: 'b.c', text: 'void file_b(void) { file_c(); }' },
      { file: 'c.c', text: 'void file_c(void) { file_a(); }' },
    ]);
    expect(findCycle(g.edges)).toEqual(['a.c', 'b.c', 'c.c', 'a.c']);
    const h = buildGraph(
      [
        { file: 'a.c', text: 'void file_a(void) { file_wrap(); }' },
        { file: 'b.c', text: 'void file_b(void) { file_a(); }' },
      ],
      'static inline void file_wrap(void) { file_b(); }',
    );
    expect(findCycle(h.edges)).toEqual(['a.c', 'b.c', 'a.c']);
    const ok = buildGraph([
      { file: 'a.c', text: 'void file_a(void) { file_b(); }' },
      { file: 'b.c', text: 'void file_b(void) { }' },
    ]);
    expect(findCycle(ok.edges)).toBeNull();
  });
});
