// Which file_* functions each C file of native/ defines, and which it calls
// that another file defines: enough to see the dependencies between
// modules and find a cycle among them.  A scanner, not a C parser: it
// relies on the plugin's naming (every function shared between files is
// called file_something) and on comments and strings not nesting braces.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Source {
  file: string;
  text: string;
}

export interface Scanned {
  defines: Set<string>;
  calls: Set<string>;
}

/** The text with comments, string and character literals and preprocessor lines blanked out. */
export function stripNoise(text: string): string {
  return text
    .replace(/\/\*[\s\S]*?\*\//g, (m) => m.replace(/[^\n]/g, ' '))
    .replace(/\/\/[^\n]*/g, '')
    .replace(/"(?:[^"\\\n]|\\.)*"/g, '""')
    .replace(/'(?:[^'\\\n]|\\.)*'/g, "''")
    .replace(/^[ \t]*#[^\n]*(?:\\\n[^\n]*)*/gm, '');
}

const IDENT = /\bfile_[a-z0-9_]+(?=\s*\()/g;

/** Functions defined at the top level (name, parameters, then a body) and names called inside bodies. */
export function scan(text: string): Scanned {
  const s = stripNoise(text);
  const defines = new Set<string>();
  const calls = new Set<string>();
  // Brace depth at every offset.
  const depth = new Int32Array(s.length + 1);
  let d = 0;
  for (let i = 0; i < s.length; i++) {
    depth[i] = d;
    if (s[i] === '{') d++;
    else if (s[i] === '}') d--;
  }
  for (const m of s.matchAll(IDENT)) {
    const at = m.index;
    const name = m[0];
    if ((depth[at] ?? 0) > 0) {
      calls.add(name);
      continue;
    }
    // Top level: a definition when the parameter list is followed by a body.
    let i = s.indexOf('(', at);
    let paren = 0;
    for (; i < s.length; i++) {
      if (s[i] === '(') paren++;
      else if (s[i] === ')' && --paren === 0) break;
    }
    const rest = s.slice(i + 1).trimStart();
    if (rest.startsWith('{')) defines.add(name);
  }
  return { defines, calls };
}

export interface Graph {
  /** file -> the files whose functions it calls (itself left out). */
  edges: Map<string, Set<string>>;
  /** function -> the file defining it. */
  owner: Map<string, string>;
}

/**
 * The file graph.  Calls to a static inline function of the header count as
 * calls to what its body calls.
 */
export function buildGraph(sources: Source[], header = ''): Graph {
  const owner = new Map<string, string>();
  const scanned = new Map<string, Scanned>();
  for (const src of sources) {
    const sc = scan(src.text);
    scanned.set(src.file, sc);
    for (const f of sc.defines) {
      const prev = owner.get(f);
      if (prev && prev !== src.file) throw new Error(`${f} is defined in both ${prev} and ${src.file}`);
      owner.set(f, src.file);
    }
  }
  const inline = new Map<string, Set<string>>();
  const h = stripNoise(header);
  for (const [, name = '', body = ''] of h.matchAll(/static\s+inline[^{;]*?\b(file_[a-z0-9_]+)\s*\([^)]*\)\s*\{([^}]*)\}/g)) {
    inline.set(name, new Set([...body.matchAll(IDENT)].map((c) => c[0])));
  }
  const edges = new Map<string, Set<string>>();
  for (const [file, sc] of scanned) {
    const to = new Set<string>();
    const called = new Set<string>();
    for (const c of sc.calls) {
      called.add(c);
      for (const x of inline.get(c) ?? []) called.add(x);
    }
    for (const c of called) {
      const o = owner.get(c);
      if (o && o !== file) to.add(o);
    }
    edges.set(file, to);
  }
  return { edges, owner };
}

/** One cycle between files (its files in call order, the first repeated at the end), or null. */
export function findCycle(edges: Map<string, Set<string>>): string[] | null {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (f: string): string[] | null => {
    state.set(f, 'open');
    stack.push(f);
    for (const g of [...(edges.get(f) ?? [])].sort()) {
      if (state.get(g) === 'open') return [...stack.slice(stack.indexOf(g)), g];
      if (!state.has(g)) {
        const c = visit(g);
        if (c) return c;
      }
    }
    stack.pop();
    state.set(f, 'done');
    return null;
  };
  for (const f of [...edges.keys()].sort()) {
    if (state.has(f)) continue;
    const c = visit(f);
    if (c) return c;
  }
  return null;
}

/** Whether `to` can be reached from `from`. */
export function reaches(edges: Map<string, Set<string>>, from: string, to: string): boolean {
  const seen = new Set<string>();
  const todo = [from];
  while (todo.length) {
    const f = todo.pop() as string;
    for (const g of edges.get(f) ?? []) {
      if (g === to) return true;
      if (!seen.has(g)) {
        seen.add(g);
        todo.push(g);
      }
    }
  }
  return false;
}

export function readNative(dir: string): { sources: Source[]; header: string } {
  const sources = readdirSync(dir)
    .filter((f) => f.endsWith('.c'))
    .sort()
    .map((file) => ({ file, text: readFileSync(join(dir, file), 'utf8') }));
  const header = readdirSync(dir)
    .filter((f) => f.endsWith('.h'))
    .map((f) => readFileSync(join(dir, f), 'utf8'))
    .join('\n');
  return { sources, header };
}
