// The native files form layers: no two of them need each other, and each
// uses only files on lower layers of the drawing at the top of
// native/pid_internal.h.  A file "uses" another when it names a function or
// a piece of state that the headers declare and the other file defines, or
// calls a wrapper the other file exports.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { buildGraph, declaredNames, drawnLayers, findCycle } from './layers.ts';
import { pkgRoot } from './helpers.ts';

const native = path.join(pkgRoot, 'native');
const read = (f: string): string => readFileSync(path.join(native, f), 'utf8');
const cFiles = new Map(readdirSync(native).filter((f) => f.endsWith('.c')).sort().map((f) => [f, read(f)] as const));
const headerNames = readdirSync(native).filter((f) => f.endsWith('.h'));
const headers = headerNames.map(read);
const graph = buildGraph(cFiles, headers);

function describeEdges(from: string): string {
  return [...(graph.uses.get(from) ?? [])].map(([to, names]) => `${from} -> ${to} (${names.join(', ')})`).join('\n');
}

describe('native layers', () => {
  test('every name the headers declare is defined in exactly one file', () => {
    expect(graph.definedIn.size).toBeGreaterThan(40);
    const wrong = [...graph.definedIn].filter(([, files]) => files.length !== 1).map(([n, files]) => `${n}: ${files.join(', ') || 'nowhere'}`);
    expect(wrong).toEqual([]);
  });

  test('no two files need each other, directly or around a circle', () => {
    const cycle = findCycle(graph.uses);
    const detail = cycle ? cycle.slice(0, -1).map(describeEdges).join('\n') : '';
    expect(cycle, `cycle ${cycle?.join(' -> ')}\n${detail}`).toBeNull();
  });

  test('the drawing in pid_internal.h names every file once, and every use goes down a layer', () => {
    const layers = drawnLayers(read('pid_internal.h'));
    expect([...layers.keys()].sort()).toEqual([...cFiles.keys()]);
    const upward: string[] = [];
    for (const [from, edges] of graph.uses) {
      for (const [to, names] of edges) {
        if (layers.get(to)! >= layers.get(from)!)
          upward.push(`${from} (layer ${layers.get(from)}) uses ${to} (layer ${layers.get(to)}): ${names.join(', ')}`);
      }
    }
    expect(upward).toEqual([]);
  });

  test('the event handler is the top of the drawing', () => {
    const layers = drawnLayers(read('pid_internal.h'));
    const top = Math.max(...layers.values());
    expect([...layers].filter(([, l]) => l === top).map(([f]) => f)).toEqual(['pid_plugin.c']);
  });
});

describe('the checker itself', () => {
  const header = 'DMTCP_HIDDEN void pid_a(void);\nDMTCP_HIDDEN int pid_b(int x);\nDMTCP_HIDDEN extern int g_pid_c;\n';

  test('reads declarations, definitions and uses, not comments or strings', () => {
    expect([...declaredNames([header])].sort()).toEqual(['g_pid_c', 'pid_a', 'pid_b']);
    const g = buildGraph(
      new Map([
        ['a.c', 'void pid_a(void) {\n  /* pid_b(1) */ log("pid_b(2)");\n}\n'],
        ['b.c', 'int g_pid_c;\nint pid_b(int x) {\n  pid_a();\n  return x + g_pid_c;\n}\n'],
      ]),
      [header],
    );
    expect(g.definedIn.get('pid_a')).toEqual(['a.c']);
    expect(g.definedIn.get('g_pid_c')).toEqual(['b.c']);
    expect([...g.uses.get('a.c')!]).toEqual([]);
    expect([...g.uses.get('b.c')!]).toEqual([['a.c', ['pid_a']]]);
    expect(findCycle(g.uses)).toBeNull();
  });

  test('a call of an exported wrapper by name is a use; reaching the next definition is not', () => {
    const g = buildGraph(
      new Map([
        ['a.c', 'static void f(void) {\n  DMTCP_NEXT(kill)(1, 9);\n  s.kill(2);\n}\n'],
        ['b.c', 'static void g(void) {\n  kill(1, 9);\n}\n'],
        ['s.c', '#define S_NEXT(X) X(kill)\nDMTCP_NEXT_TABLE(S_NEXT)\nPID_EXPORT int kill(pid_t pid, int sig) { return DMTCP_NEXT(kill)(pid, sig); }\n'],
      ]),
      [header],
    );
    expect(g.exportedIn.get('kill')).toBe('s.c');
    expect([...g.uses.get('a.c')!]).toEqual([]);
    expect([...g.uses.get('b.c')!]).toEqual([['s.c', ['kill()']]]);
  });

  test('finds a circle of three files', () => {
    const g = buildGraph(
      new Map([
        ['a.c', 'void pid_a(void) {\n  pid_b(0);\n}\n'],
        ['b.c', 'int pid_b(int x) {\n  return x ? g_pid_c : 0;\n}\n'],
        ['c.c', 'int g_pid_c = 1;\nstatic void f(void) { pid_a(); }\n'],
      ]),
      [header],
    );
    expect(findCycle(g.uses)).toEqual(['a.c', 'b.c', 'c.c', 'a.c']);
  });
});
