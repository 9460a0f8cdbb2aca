// Generates src/generated/constants.ts from the C headers, so that the wire
// protocol and image layout have exactly one source of truth.
//
//   node scripts/gen-constants.mjs            write src/generated/constants.ts
//   node scripts/gen-constants.mjs --stdout   print it instead
//   node scripts/gen-constants.mjs --check    exit 1 if the file on disk is stale
//   node scripts/gen-constants.mjs --stdout a.h b.h   other headers (for tests)
//
// Only object-like `#define NAME value` lines are taken, where value is a
// string literal or an integer expression over literals and earlier names.
// Anything else (include guards, function-like macros, casts) is skipped.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const headers = ['include/dmtcp/protocol.h', 'include/dmtcp/image.h', 'include/dmtcp/plugin.h'];
const outFile = path.join(root, 'src', 'generated', 'constants.ts');

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

export function parseHeader(text, known = new Map()) {
  const defs = [];
  for (const { code, doc } of logicalLines(text)) {
    const m = /^\s*#\s*define\s+([A-Za-z_]\w*)(\(?)(.*)$/.exec(code);
    if (!m) continue;
    const [, name, paren, rest] = m;
    if (paren) continue; // function-like macro
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

export function generate(files = headers) {
  const known = new Map();
  let out = '// Generated by scripts/gen-constants.mjs from ' + files.join(' and ') + '.\n'
    + '// Do not edit: change the headers and rebuild (pnpm --filter @dmtcp/core build).\n';
  for (const rel of files) {
    const defs = parseHeader(readFileSync(path.resolve(root, rel), 'utf8'), known);
    out += `\n// ${rel}\n`;
    for (const d of defs) {
      const lit = tsLiteral(d.value, d.source);
      const doc = d.doc ? d.doc.replace(/\*\//g, '* /') : '';
      const plain = /^(0[xX][0-9a-fA-F]+|\d+)[uUlL]*$/.test(d.source);
      const note = typeof d.value !== 'string' && !plain ? `(C: ${d.source})` : '';
      const comment = [doc, note].filter(Boolean).join(' ');
      if (comment) out += `/** ${comment} */\n`;
      out += `export const ${d.name} = ${lit};\n`;
    }
  }
  return out;
}

const isMain = process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  const args = process.argv.slice(2);
  const files = args.filter((a) => !a.startsWith('--'));
  const text = generate(files.length > 0 ? files : headers);
  if (args.includes('--stdout')) {
    process.stdout.write(text);
  } else if (args.includes('--check')) {
    let current = '';
    try {
      current = readFileSync(outFile, 'utf8');
    } catch {}
    if (current !== text) {
      console.error(`${path.relative(root, outFile)} is stale: run node scripts/gen-constants.mjs`);
      process.exit(1);
    }
  } else {
    mkdirSync(path.dirname(outFile), { recursive: true });
    let current = null;
    try {
      current = readFileSync(outFile, 'utf8');
    } catch {}
    // Leave the file untouched when nothing changed so watchers and
    // incremental builds do not see a spurious modification.
    if (current !== text) {
      const tmp = `${outFile}.${process.pid}.tmp`;
      writeFileSync(tmp, text);
      renameSync(tmp, outFile);
    }
  }
}
