#!/usr/bin/env node
// Generates the TypeScript (or JavaScript) mirror of C headers, so that what
// both languages need has exactly one source of truth: the core's wire
// protocol and image layout, and each plugin's own wire header.
//
//   dmtcp-gen-constants [IN.h...] [-o OUT] [--check | --stdout]
//   (also `dmtcp gen-constants ...`, and node scripts/gen-constants.mjs)
//
// Without IN.h, the core's headers and src/generated/constants.ts. With
// --check nothing is written: exit 1 if OUT is not what it would be. OUT
// ending in .js or .mjs gets plain JavaScript, anything else TypeScript.
//
// Taken from the headers:
// - object-like `#define NAME value` lines, where value is a string literal
//   or an integer expression over literals and earlier names;
// - record lists `#define NAME(X) X(FIELD, TYPE, PRESENCE) ...` (see
//   include/dmtcp/records.h): an interface, a field table and a validating
//   parser for each.
// Anything else (include guards, other function-like macros, casts) is skipped.
import { mkdirSync, readFileSync, realpathSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const coreHeaders = ['include/dmtcp/protocol.h', 'include/dmtcp/image.h', 'include/dmtcp/plugin.h', 'include/dmtcp/records.h'];
const coreOut = 'src/generated/constants.ts';

/** Removes comments (keeping the text of the first trailing comment of each
 *  line for documentation) and joins continuation lines. String literals are
 *  respected so that a "/*" inside one survives. */
function logicalLines(text) {
  const lines = [];
  let cur = '';
  let doc = '';
  let i = 0;
  const flush = () => {
    lines.push({ code: cur, doc: doc.trim() });
    cur = '';
    doc = '';
  };
  while (i < text.length) {
    const c = text[i];
    if (c === '\\' && text[i + 1] === '\n') {
      i += 2;
      continue;
    }
    if (c === '\n') {
      flush();
      i++;
      continue;
    }
    if (c === '"' || c === "'") {
      let j = i + 1;
      while (j < text.length && text[j] !== c && text[j] !== '\n') j += text[j] === '\\' ? 2 : 1;
      cur += text.slice(i, j + 1);
      i = j + 1;
      continue;
    }
    if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      const body = text.slice(i + 2, end < 0 ? text.length : end);
      if (!doc && !body.includes('\n')) doc = body;
      // A multi-line comment still ends the logical line it started on.
      for (const _ of body.matchAll(/\n/g)) flush();
      cur += ' ';
      i = end < 0 ? text.length : end + 2;
      continue;
    }
    if (c === '/' && text[i + 1] === '/') {
      const end = text.indexOf('\n', i);
      if (!doc) doc = text.slice(i + 2, end < 0 ? text.length : end);
      i = end < 0 ? text.length : end;
      continue;
    }
    cur += c;
    i++;
  }
  flush();
  return lines;
}

function tokenize(expr) {
  const tokens = [];
  const re = /\s*(?:(0[xX][0-9a-fA-F]+|\d+)[uUlL]*|([A-Za-z_]\w*)|(<<|>>|[-+*/%&|^~()]))/y;
  let pos = 0;
  while (pos < expr.length) {
    if (/^\s*$/.test(expr.slice(pos))) break;
    re.lastIndex = pos;
    const m = re.exec(expr);
    if (!m) return null;
    if (m[1] !== undefined) {
      const lit = m[1];
      // C treats a leading 0 as octal.
      const v = /^0[0-7]+$/.test(lit) ? BigInt('0o' + lit.slice(1)) : BigInt(lit);
      tokens.push({ num: v });
    } else if (m[2] !== undefined) tokens.push({ ident: m[2] });
    else tokens.push({ op: m[3] });
    pos = re.lastIndex;
  }
  return tokens;
}

/** Precedence-climbing evaluation of a C integer constant expression. Returns
 *  undefined when the expression uses anything we do not understand. */
function evaluate(expr, known) {
  const tokens = tokenize(expr);
  if (!tokens || tokens.length === 0) return undefined;
  let i = 0;
  const binary = [
    ['|'], ['^'], ['&'], ['<<', '>>'], ['+', '-'], ['*', '/', '%'],
  ];
  const fail = () => {
    throw new Error('unsupported');
  };
  const primary = () => {
    const t = tokens[i++];
    if (!t) fail();
    if (t.num !== undefined) return t.num;
    if (t.ident !== undefined) {
      const v = known.get(t.ident);
      if (typeof v !== 'bigint') fail();
      return v;
    }
    if (t.op === '(') {
      const v = level(0);
      if (tokens[i++]?.op !== ')') fail();
      return v;
    }
    if (t.op === '-') return -primary();
    if (t.op === '+') return primary();
    if (t.op === '~') return ~primary();
    return fail();
  };
  const level = (n) => {
    if (n === binary.length) return primary();
    let left = level(n + 1);
    while (i < tokens.length && binary[n].includes(tokens[i].op)) {
      const op = tokens[i++].op;
      const right = level(n + 1);
      if ((op === '/' || op === '%') && right === 0n) fail();
      switch (op) {
        case '|': left |= right; break;
        case '^': left ^= right; break;
        case '&': left &= right; break;
        case '<<': left <<= right; break;
        case '>>': left >>= right; break;
        case '+': left += right; break;
        case '-': left -= right; break;
        case '*': left *= right; break;
        case '/': left /= right; break;
        case '%': left %= right; break;
      }
    }
    return left;
  };
  try {
    const v = level(0);
    return i === tokens.length ? v : undefined;
  } catch {
    return undefined;
  }
}

/** Adjacent C string literals, concatenated; undefined if value is not only that. */
function stringValue(value) {
  const re = /\s*"((?:[^"\\]|\\.)*)"/y;
  let out = '';
  let pos = 0;
  let any = false;
  while (pos < value.length) {
    if (/^\s*$/.test(value.slice(pos))) break;
    re.lastIndex = pos;
    const m = re.exec(value);
    if (!m) return undefined;
    const body = m[1].replace(/\\([0-7]{1,3})/g, (_, o) => `\\u${parseInt(o, 8).toString(16).padStart(4, '0')}`);
    try {
      out += JSON.parse(`"${body}"`);
    } catch {
      return undefined;
    }
    any = true;
    pos = re.lastIndex;
  }
  return any ? out : undefined;
}

export const FIELD_TYPES = {
  string: 'string',
  uint: 'number',
  int: 'number',
  bool: 'boolean',
  uint_string_pairs: 'Array<[number, string]>',
};

/** A record list's body, `X(F, T, P) X(...)`, as fields; null when the body
 *  is not only such calls of the parameter. Names must be known strings. */
function recordFields(name, param, body, known) {
  const call = new RegExp(`\\s*${param}\\s*\\(\\s*([A-Za-z_]\\w*)\\s*,\\s*([A-Za-z_]\\w*)\\s*,\\s*([A-Za-z_]\\w*)\\s*\\)`, 'y');
  const fields = [];
  let pos = 0;
  while (pos < body.length && !/^\s*$/.test(body.slice(pos))) {
    call.lastIndex = pos;
    const m = call.exec(body);
    if (!m) return null;
    const [, field, type, presence] = m;
    const key = known.get(field);
    if (typeof key !== 'string') throw new Error(`${name}: ${field} is not a string defined before it`);
    if (!Object.hasOwn(FIELD_TYPES, type)) throw new Error(`${name}: ${field} has unknown type ${type} (expected ${Object.keys(FIELD_TYPES).join(', ')})`);
    if (presence !== 'required' && presence !== 'optional') throw new Error(`${name}: ${field} must be required or optional, not ${presence}`);
    if (fields.some((f) => f.key === key)) throw new Error(`${name}: key "${key}" is listed twice`);
    fields.push({ key, type, required: presence === 'required' });
    pos = call.lastIndex;
  }
  return fields.length > 0 ? fields : null;
}

/** The constants and record lists of one header, in order. */
export function parseHeader(text, known = new Map()) {
  const defs = [];
  for (const { code, doc } of logicalLines(text)) {
    const m = /^\s*#\s*define\s+([A-Za-z_]\w*)(\(?)(.*)$/.exec(code);
    if (!m) continue;
    const [, name, paren, rest] = m;
    if (paren) {
      const fm = /^\s*([A-Za-z_]\w*)\s*\)(.*)$/.exec(rest);
      const fields = fm ? recordFields(name, fm[1], fm[2], known) : null;
      if (!fields) continue; // another function-like macro
      if (known.has(name)) throw new Error(`${name} is defined twice`);
      known.set(name, fields);
      defs.push({ name, record: fields, doc });
      continue;
    }
    const value = rest.trim();
    if (!value) continue; // include guard or flag macro
    let v = stringValue(value);
    if (v === undefined) v = evaluate(value, known);
    if (v === undefined) continue;
    if (known.has(name)) throw new Error(`${name} is defined twice`);
    known.set(name, v);
    defs.push({ name, value: v, source: value, doc });
  }
  return defs;
}

function tsLiteral(v, source) {
  if (typeof v === 'string') return JSON.stringify(v);
  // Flags and magics read better in the base the header author chose.
  const hex = /^0[xX]([0-9a-fA-F]+)[uUlL]*$/.exec(source);
  if (hex && v <= BigInt(Number.MAX_SAFE_INTEGER)) return `0x${hex[1].toLowerCase()}`;
  if (v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)) return String(v);
  return `${v}n`;
}

/** DMTCP_WRITTEN_RECORD -> DmtcpWrittenRecord */
function typeName(macro) {
  return macro.toLowerCase().split('_').filter(Boolean).map((w) => w[0].toUpperCase() + w.slice(1)).join('');
}

const comment = (text) => text.replace(/\*\//g, '* /');

/** What every generated parser shares; emitted once per file that has records. */
function recordHelpers(ts) {
  const t = (typed, plain = '') => (ts ? typed : plain);
  return `
${t(`/** A parsed record, or why the payload is not one. */
export type WireParse<T> = { ok: true; value: T } | { ok: false; error: string };
export type WireFieldType = ${Object.keys(FIELD_TYPES).map((k) => `'${k}'`).join(' | ')};
export interface WireField {
  readonly key: string;
  readonly type: WireFieldType;
  readonly required: boolean;
}
`)}
function wireValueOk(type${t(': WireFieldType')}, v${t(': unknown')})${t(': boolean')} {
  switch (type) {
    case 'string': return typeof v === 'string';
    case 'uint': return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
    case 'int': return typeof v === 'number' && Number.isSafeInteger(v);
    case 'bool': return typeof v === 'boolean';
    case 'uint_string_pairs':
      return Array.isArray(v) && v.every((e) => Array.isArray(e) && e.length === 2 && wireValueOk('uint', e[0]) && typeof e[1] === 'string');
  }
  return false;
}

/** Checks a JSON record against its field list; keys the list does not name are dropped. */
export function parseWireRecord(payload${t(': Uint8Array | string')}, fields${t(': readonly WireField[]')})${t(': WireParse<Record<string, unknown>>')} {
  const text = typeof payload === 'string' ? payload : new TextDecoder().decode(payload);
  let obj${t(': unknown')};
  try {
    obj = JSON.parse(text);
  } catch {
    return { ok: false, error: 'not JSON' };
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) return { ok: false, error: 'not a JSON object' };
  const src = obj${t(' as Record<string, unknown>')};
  const value${t(': Record<string, unknown>')} = {};
  for (const f of fields) {
    const v = Object.hasOwn(src, f.key) ? src[f.key] : undefined;
    if (v === undefined) {
      if (f.required) return { ok: false, error: \`no "\${f.key}"\` };
      continue;
    }
    if (!wireValueOk(f.type, v)) return { ok: false, error: \`"\${f.key}" is not a \${f.type}: \${JSON.stringify(v).slice(0, 40)}\` };
    value[f.key] = v;
  }
  return { ok: true, value };
}
`;
}

function recordCode(d, ts) {
  const type = typeName(d.name);
  const doc = d.doc ? `/** ${comment(d.doc)} */\n` : '';
  let out = '';
  if (ts) {
    out += `${doc}export interface ${type} {\n`;
    for (const f of d.record) out += `  readonly ${f.key}${f.required ? '' : '?'}: ${FIELD_TYPES[f.type]};\n`;
    out += '}\n';
  }
  const table = d.record.map((f) => `  { key: ${JSON.stringify(f.key)}, type: '${f.type}', required: ${f.required} },\n`).join('');
  out += `export const ${d.name}${ts ? ': readonly WireField[]' : ''} = [\n${table}];\n`;
  out += ts
    ? `export function parse${type}(payload: Uint8Array | string): WireParse<${type}> {\n  return parseWireRecord(payload, ${d.name}) as WireParse<${type}>;\n}\n`
    : `${doc}export function parse${type}(payload) {\n  return parseWireRecord(payload, ${d.name});\n}\n`;
  return out;
}

/** The mirror of the headers. inputs: [{ label, text }]; js: plain JavaScript. */
export function generateFrom(inputs, { js = false, how = 'dmtcp gen-constants' } = {}) {
  const known = new Map();
  const parsed = inputs.map(({ label, text }) => ({ label, defs: parseHeader(text, known) }));
  const hasRecords = parsed.some((p) => p.defs.some((d) => d.record));
  let out = `// Generated by ${how} from ${inputs.map((i) => i.label).join(' and ')}.\n`
    + '// Do not edit: change the headers and rebuild.\n';
  if (hasRecords) out += recordHelpers(!js);
  for (const { label, defs } of parsed) {
    out += `\n// ${label}\n`;
    for (const d of defs) {
      if (d.record) {
        out += recordCode(d, !js);
        continue;
      }
      const lit = tsLiteral(d.value, d.source);
      const doc = d.doc ? comment(d.doc) : '';
      const plain = /^(0[xX][0-9a-fA-F]+|\d+)[uUlL]*$/.test(d.source);
      const note = typeof d.value !== 'string' && !plain ? `(C: ${d.source})` : '';
      const text = [doc, note].filter(Boolean).join(' ');
      if (text) out += `/** ${text} */\n`;
      out += `export const ${d.name} = ${lit};\n`;
    }
  }
  return out;
}

/** The core's mirror (files relative to the package root). */
export function generate(files = coreHeaders) {
  return generateFrom(files.map((rel) => ({ label: rel, text: readFileSync(path.resolve(root, rel), 'utf8') })),
    { how: 'scripts/gen-constants.mjs' });
}

const USAGE = 'usage: dmtcp gen-constants [IN.h...] [-o OUT] [--check | --stdout]';

/** The command line; returns the exit status. Paths are relative to cwd. */
export function runGenerator(argv, { cwd = process.cwd(), out = (s) => process.stdout.write(s), err = (s) => process.stderr.write(`${s}\n`), prog = 'dmtcp gen-constants' } = {}) {
  const inputs = [];
  let output = null;
  let mode = 'write';
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--check') mode = 'check';
    else if (a === '--stdout') mode = 'stdout';
    else if (a === '-h' || a === '--help') {
      out(`${USAGE}\n\nWrites OUT (TypeScript, or JavaScript for .js/.mjs) from the #define constants and\nrecord lists of the headers; --check exits 1 when OUT is stale. Without IN.h:\nthe core's headers into its src/generated/constants.ts.\n`);
      return 0;
    } else if (a === '-o' || a === '--out') {
      output = argv[++i] ?? null;
      if (output === null) {
        err(`${prog}: ${a} needs a file (${USAGE})`);
        return 2;
      }
    } else if (a.startsWith('-')) {
      err(`${prog}: unknown option ${JSON.stringify(a)} (${USAGE})`);
      return 2;
    } else inputs.push(a);
  }
  let text;
  let outFile;
  try {
    if (inputs.length === 0) {
      if (output !== null) {
        err(`${prog}: -o needs at least one header (${USAGE})`);
        return 2;
      }
      text = generate();
      outFile = path.join(root, coreOut);
    } else {
      if (output === null && mode !== 'stdout') {
        err(`${prog}: no output file: give -o OUT (${USAGE})`);
        return 2;
      }
      outFile = output === null ? null : path.resolve(cwd, output);
      const js = outFile !== null && /\.m?js$/.test(outFile);
      const sources = inputs.map((rel) => {
        const file = path.resolve(cwd, rel);
        let body;
        try {
          body = readFileSync(file, 'utf8');
        } catch (e) {
          throw new Error(`cannot read ${rel} (${e.code ?? e.message})`);
        }
        // Labels are relative to the output, so the text does not depend on where it was run.
        const label = outFile ? path.relative(path.dirname(outFile), file).split(path.sep).join('/') : rel;
        return { label, text: body };
      });
      text = generateFrom(sources, { js, how: 'dmtcp gen-constants' });
    }
  } catch (e) {
    err(`${prog}: ${e.message}`);
    return 1;
  }
  if (mode === 'stdout') {
    out(text);
    return 0;
  }
  let current = null;
  try {
    current = readFileSync(outFile, 'utf8');
  } catch {}
  const shown = path.relative(cwd, outFile) || outFile;
  if (mode === 'check') {
    if (current === text) return 0;
    err(`${prog}: ${shown} is ${current === null ? 'missing' : 'stale'}: regenerate it (${prog} ${argv.filter((a) => a !== '--check').join(' ')})`.replace(/ \)$/, ')'));
    return 1;
  }
  // Leave the file untouched when nothing changed so watchers and
  // incremental builds do not see a spurious modification.
  if (current !== text) {
    mkdirSync(path.dirname(outFile), { recursive: true });
    const tmp = `${outFile}.${process.pid}.tmp`;
    writeFileSync(tmp, text);
    renameSync(tmp, outFile);
  }
  return 0;
}

/** Run as a program, not imported (the CLI bundles this file, hence the name test). */
function isMain() {
  const self = fileURLToPath(import.meta.url);
  try {
    return path.basename(self) === 'gen-constants.mjs' && !!process.argv[1] && realpathSync(path.resolve(process.argv[1])) === self;
  } catch {
    return false;
  }
}
if (isMain()) process.exitCode = runGenerator(process.argv.slice(2), { prog: path.basename(process.argv[1]).replace(/\.mjs$/, '') });
