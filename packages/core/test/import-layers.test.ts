// The modules of src/ form layers; a module may import its own layer or a
// lower one, never a higher one, and no chain of imports may come back to
// where it started.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = path.resolve(import.meta.dirname, '../src');

/** Lowest first. A file's layer is that of the longest prefix naming it. */
const LAYERS: readonly (readonly string[])[] = [
  ['generated/', 'types.ts', 'paths.ts'],
  ['protocol/', 'native.ts'],
  ['image/', 'plugin/'],
  ['coordinator/'],
  ['cli/'],
  ['index.ts', 'testing/'],
];

function layerOf(file: string): number {
  let best = -1;
  let bestLen = -1;
  LAYERS.forEach((prefixes, i) => {
    for (const p of prefixes) {
      if ((file === p || (p.endsWith('/') && file.startsWith(p))) && p.length > bestLen) {
        best = i;
        bestLen = p.length;
      }
    }
  });
  return best;
}

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => path.relative(SRC, path.join(e.parentPath, e.name)).split(path.sep).join('/'))
    .sort();
}

/** Relative specifiers of import/export-from statements, static and dynamic. */
export function importsOf(source: string): string[] {
  // Code generated from template literals (the plugin scaffold) is not this module's.
  const text = source.replace(/`(?:\\[\s\S]|[^`\\])*`/g, '``');
  const out: string[] = [];
  const re = /(?:^|[\s;])(?:import|export)\s[^'"`;]*?from\s*['"]([^'"]+)['"]|(?:^|[\s;])import\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/gm;
  for (const m of text.matchAll(re)) {
    const spec = m[1] ?? m[2] ?? m[3];
    if (spec?.startsWith('.')) out.push(spec);
  }
  return out;
}

function graph(): Map<string, string[]> {
  const g = new Map<string, string[]>();
  for (const file of tsFiles(SRC)) {
    const text = readFileSync(path.join(SRC, file), 'utf8');
    // Outside src/ (the package's build scripts) sits below every layer.
    const deps = importsOf(text)
      .map((spec) => path.posix.normalize(path.posix.join(path.posix.dirname(file), spec)))
      .filter((dep) => !dep.startsWith('../'));
    g.set(file, deps);
  }
  return g;
}

function findCycle(g: Map<string, string[]>): string[] | null {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (n: string): string[] | null => {
    state.set(n, 'open');
    stack.push(n);
    for (const d of g.get(n) ?? []) {
      if (state.get(d) === 'open') return [...stack.slice(stack.indexOf(d)), d];
      if (!state.has(d) && g.has(d)) {
        const c = visit(d);
        if (c) return c;
      }
    }
    stack.pop();
    state.set(n, 'done');
    return null;
  };
  for (const n of g.keys()) {
    if (!state.has(n)) {
      const c = visit(n);
      if (c) return c;
    }
  }
  return null;
}

describe('import graph of src/', () => {
  const g = graph();

  it('parses the import statements it is meant to see', () => {
    expect(importsOf("import { a } from './a.ts';\nimport type { B } from '../b.ts';\nexport * from './c.ts';\nimport './d.ts';\nconst m = await import('./e.ts');\nimport x from 'node:fs';")).toEqual(
      ['./a.ts', '../b.ts', './c.ts', './d.ts', './e.ts'],
    );
    expect(importsOf("import {\n  a,\n  b,\n} from './multi.ts';")).toEqual(['./multi.ts']);
    expect(g.get('coordinator/coordinator.ts')).toContain('coordinator/round-runner.ts');
  });

  it('names an existing file in every relative import', () => {
    const missing = [...g].flatMap(([file, deps]) => deps.filter((d) => !g.has(d)).map((d) => `${file} -> ${d}`));
    expect(missing).toEqual([]);
  });

  it('puts every file in a layer', () => {
    expect([...g.keys()].filter((f) => layerOf(f) < 0)).toEqual([]);
  });

  it('has no module importing a higher layer', () => {
    const upward = [...g].flatMap(([file, deps]) =>
      deps.filter((d) => layerOf(d) > layerOf(file)).map((d) => `${file} (layer ${layerOf(file)}) -> ${d} (layer ${layerOf(d)})`));
    expect(upward).toEqual([]);
  });

  it('has no import cycle', () => {
    expect(findCycle(g)).toBeNull();
  });

  it('would see a cycle and an upward import', () => {
    const bad = new Map([['a.ts', ['b.ts']], ['b.ts', ['c.ts']], ['c.ts', ['a.ts']]]);
    expect(findCycle(bad)).toEqual(['a.ts', 'b.ts', 'c.ts', 'a.ts']);
    expect(layerOf('plugin/index.ts')).toBeLessThan(layerOf('coordinator/types.ts'));
  });
});
