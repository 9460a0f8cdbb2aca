// Which file of native/ uses which other: the functions and state each .c
// file defines among those the headers declare, and where else they appear;
// also the wrappers a file exports (PID_EXPORT), where another file calls
// them by name (a call of kill() from pid_spawn.c reaches pid_signal.c's).
// Read from the sources with regular expressions, which the project's style
// (definitions start at column 0, calls never do) makes enough.

/** Source text without comments and string or character literals. */
export function stripComments(src: string): string {
  return src.replace(/\/\*[\s\S]*?\*\/|\/\/[^\n]*|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'/g, (m) =>
    m.startsWith('/') ? m.replace(/[^\n]/g, ' ') : '""',
  );
}

/** Names declared DMTCP_HIDDEN in the headers: functions and state. */
export function declaredNames(headers: string[]): Set<string> {
  const names = new Set<string>();
  for (const h of headers) {
    for (const m of stripComments(h).matchAll(/DMTCP_HIDDEN[^;]*?\b((?:[gt]_)?pid_[a-z0-9_]+)\s*[([;]/g)) names.add(m[1]!);
  }
  return names;
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Whether src (stripped) defines name at file scope: a function with a
 * body, or a variable that is not only declared. */
export function defines(src: string, name: string): boolean {
  const n = escape(name);
  const fn = new RegExp(`^(?!static\\b)[A-Za-z_][\\w \\t*]*\\b${n}\\s*\\(([^;{]*)\\)\\s*\\{`, 'm');
  const state = new RegExp(`^(?!extern\\b|static\\b|DMTCP_HIDDEN\\b)[A-Za-z_][\\w \\t*]*\\b${n}\\b\\s*(?:\\[[^\\]]*\\])?\\s*(?:=|;|__attribute__)`, 'm');
  return fn.test(src) || state.test(src);
}

/** Functions src (stripped) defines as PID_EXPORT. */
export function exportedNames(src: string): string[] {
  return [...src.matchAll(/^PID_EXPORT\b[^;{(]*?\b([A-Za-z_]\w*)\s*\(/gm)].map((m) => m[1]!);
}

export interface Graph {
  /** name -> the files defining it (declared in the headers) */
  definedIn: Map<string, string[]>;
  /** exported wrapper -> the file defining it */
  exportedIn: Map<string, string>;
  /** file -> file -> the names of the second that the first uses */
  uses: Map<string, Map<string, string[]>>;
}

/** files: .c file name -> source; headers: their texts. */
export function buildGraph(files: Map<string, string>, headers: string[]): Graph {
  const stripped = new Map([...files].map(([f, s]) => [f, stripComments(s)] as const));
  const definedIn = new Map<string, string[]>();
  for (const name of declaredNames(headers)) {
    definedIn.set(name, [...stripped].filter(([, s]) => defines(s, name)).map(([f]) => f));
  }
  const exportedIn = new Map<string, string>();
  for (const [file, src] of stripped) for (const name of exportedNames(src)) exportedIn.set(name, file);
  const uses = new Map<string, Map<string, string[]>>();
  for (const [file, src] of stripped) {
    const edges = new Map<string, string[]>();
    const add = (to: string, name: string): void => void edges.set(to, [...(edges.get(to) ?? []), name]);
    for (const [name, owners] of definedIn) {
      if (owners.length !== 1 || owners[0] === file) continue;
      if (new RegExp(`\\b${escape(name)}\\b`).test(src)) add(owners[0]!, name);
    }
    /* A call by name; DMTCP_NEXT(name) and X(name) in a next-function list reach the next
     * definition instead, and a member or a field is no call. */
    for (const [name, owner] of exportedIn) {
      if (owner !== file && new RegExp(`(?<![\\w.>])${escape(name)}\\s*\\(`).test(src)) add(owner, `${name}()`);
    }
    uses.set(file, edges);
  }
  return { definedIn, exportedIn, uses };
}

/** A cycle of files, first file repeated at the end; null when none. */
export function findCycle(uses: Graph['uses']): string[] | null {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (f: string): string[] | null => {
    state.set(f, 'open');
    stack.push(f);
    for (const to of [...(uses.get(f)?.keys() ?? [])].sort()) {
      if (state.get(to) === 'open') return [...stack.slice(stack.indexOf(to)), to];
      if (!state.has(to)) {
        const c = visit(to);
        if (c) return c;
      }
    }
    stack.pop();
    state.set(f, 'done');
    return null;
  };
  for (const f of [...uses.keys()].sort()) {
    if (state.has(f)) continue;
    const c = visit(f);
    if (c) return c;
  }
  return null;
}

/** The layers drawn in a header's comment: lines "<n>  file.c  what" and
 * continuation lines "     file.c  what" that take the layer above them. */
export function drawnLayers(header: string): Map<string, number> {
  const layers = new Map<string, number>();
  let current = -1;
  for (const m of header.matchAll(/^ \*\s+(?:(\d+)\s+)?(pid_[a-z0-9_]+\.c)\b/gm)) {
    if (m[1] !== undefined) current = Number(m[1]);
    if (current >= 0) layers.set(m[2]!, current);
  }
  return layers;
}
