// The toolkit headers (include/dmtcp/{sys,fmt,hash,fds,debug,visibility,usermem,fdpass}.h)
// are used from signal handlers, the freestanding restart program and plugin
// libraries: each must compile on its own with no libc header in reach, and
// sys.h + fmt.h must be enough for a program linked without any library.
// The formatter and parsers are checked through a compiled probe.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { paths } from '../src/paths.ts';

const CC = process.env['CC'] ?? 'cc';
const TOOLKIT = ['sys.h', 'fmt.h', 'hash.h', 'fds.h', 'debug.h', 'visibility.h', 'usermem.h', 'timens.h', 'fdpass.h'];
const STRICT = ['-std=gnu11', '-Wall', '-Wextra', '-Werror'];

const dir = mkdtempSync(path.join(tmpdir(), 'dmtcp-toolkit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function cc(args: string[]): { ok: boolean; stderr: string } {
  const r = spawnSync(CC, args, { encoding: 'utf8' });
  return { ok: r.status === 0, stderr: r.stderr };
}

/** Include flags that reach the compiler's own freestanding headers and the
 * kernel's uapi headers, and nothing of libc. */
function freestandingIncludes(): string[] {
  const kernel = path.join(dir, 'kernel-include');
  mkdirSync(kernel, { recursive: true });
  const uapi: Array<[string, string]> = [
    ['asm', '/usr/include/x86_64-linux-gnu/asm'],
    ['asm-generic', '/usr/include/asm-generic'],
    ['linux', '/usr/include/linux'],
  ];
  for (const [name, target] of uapi) {
    try {
      symlinkSync(target, path.join(kernel, name));
    } catch {
      // already there from an earlier call
    }
  }
  const gccInclude = execFileSync(CC, ['-print-file-name=include'], { encoding: 'utf8' }).trim();
  return ['-nostdinc', '-isystem', gccInclude, '-isystem', kernel, '-I', paths.includeDir];
}

describe('toolkit headers', () => {
  it('lists every toolkit header that exists', () => {
    const present = readdirSync(path.join(paths.includeDir, 'dmtcp'));
    for (const h of TOOLKIT) expect(present).toContain(h);
  });

  it('the libc-free include path really has no libc', () => {
    const src = path.join(dir, 'libc.c');
    writeFileSync(src, '#include <stdio.h>\n');
    const r = cc([...STRICT, '-ffreestanding', ...freestandingIncludes(), '-c', '-o', path.join(dir, 'libc.o'), src]);
    expect(r.ok).toBe(false);
    expect(r.stderr).toMatch(/stdio\.h/);
  });

  for (const h of TOOLKIT) {
    it(`${h} compiles alone, freestanding, without libc headers`, () => {
      const src = path.join(dir, `alone-${h}.c`);
      writeFileSync(src, `#include "dmtcp/${h}"\n#include "dmtcp/${h}"\n`);
      const r = cc([...STRICT, '-ffreestanding', ...freestandingIncludes(), '-c', '-o', `${src}.o`, src]);
      expect(r.stderr).toBe('');
      expect(r.ok).toBe(true);
    });
  }

  it('sys.h and fmt.h make a program linked with -nostdlib', () => {
    const src = path.join(dir, 'nostdlib.c');
    const exe = path.join(dir, 'nostdlib');
    writeFileSync(
      src,
      [
        '#include "dmtcp/fmt.h"',
        '#include "dmtcp/sys.h"',
        '__attribute__((force_align_arg_pointer, noreturn)) void _start(void) {',
        '  char buf[64];',
        '  struct sbuf sb;',
        '  sb_init(&sb, buf, sizeof buf);',
        '  sb_format(&sb, "n=%lu i=%ld x=%lx\\n", (unsigned long)UINT64_MAX, (long)INT64_MIN, 0xc0ffeeul);',
        '  uint64_t v = 0;',
        '  long k = fmt_parse_dec("4242", 4, &v);',
        '  sys_write(1, buf, sb.len);',
        '  sys_exit_group(k == 4 && v == 4242 ? 7 : 1);',
        '}',
        '',
      ].join('\n'),
    );
    const r = cc([
      ...STRICT,
      '-ffreestanding',
      '-fno-builtin',
      '-fno-stack-protector',
      '-static',
      '-nostdlib',
      '-fno-pie',
      '-no-pie',
      ...freestandingIncludes(),
      '-o',
      exe,
      src,
    ]);
    expect(r.stderr).toBe('');
    expect(r.ok).toBe(true);
    const run = spawnSync(exe, { encoding: 'utf8' });
    expect(run.stdout).toBe('n=18446744073709551615 i=-9223372036854775808 x=c0ffee\n');
    expect(run.status).toBe(7);
  });
});

describe('formatter, parsers and helpers', () => {
  const exe = path.join(dir, 'toolkit-probe');
  execFileSync(CC, [...STRICT, '-I', paths.includeDir, '-o', exe, path.join(import.meta.dirname, 'fixtures', 'toolkit-probe.c')]);
  const run = spawnSync(exe, { encoding: 'utf8' });
  const got = new Map<string, string>();
  for (const line of run.stdout.split('\n')) {
    const tab = line.indexOf('\t');
    if (tab > 0) got.set(line.slice(0, tab), line.slice(tab + 1));
  }
  const pid = String(run.pid);

  it('runs', () => {
    expect(run.status).toBe(0);
  });

  it.each([
    ['trunc8', 'hello w|len=7|overflow=1|nul=1|guard=1'],
    ['trunc1', '|len=0|overflow=1|nul=1|guard=1'],
    ['trunc0', '|len=0|overflow=1|nul=1|guard=1'],
    ['truncnum', '1844|len=4|overflow=1|nul=1|guard=1'],
    ['truncjson', '"\\u00|len=5|overflow=1|nul=1|guard=1'],
    ['truncformat', 'abcdef=12|len=9|overflow=1|nul=1|guard=1'],
    ['exact', 'abc|len=3|overflow=0|nul=1|guard=1'],
  ])('truncation %s: stays within cap, NUL-terminated, flagged', (name, want) => {
    expect(got.get(name)).toBe(want);
  });

  it.each([
    ['umax', '18446744073709551615'],
    ['uzero', '0'],
    ['imin', '-9223372036854775808'],
    ['imax', '9223372036854775807'],
    ['ineg', '-42'],
    ['hex', 'deadbeef'],
    ['hexmax', 'ffffffffffffffff'],
    ['hexpad', '0000000000000001'],
    ['hexwide', '00000000000000ab'],
    ['hexzero', '0'],
    ['json', '"a\\"b\\\\c\\u000a\\u0001\\u001f\x7f \u00e9"'],
    ['jsonnull', '""'],
    ['putsnull', '(null)'],
    ['putn', 'abc'],
    ['format', '-7 8 4000000000 beef -9223372036854775808 18446744073709551615 12 feedfacecafe Z % str (null)|'],
    ['formatptr', '0x1234'],
    ['formatbad', 'a?b'],
  ])('formats %s', (name, want) => {
    expect(got.get(name)).toBe(want);
  });

  it('JSON escaping gives text JSON.parse reads back', () => {
    expect(JSON.parse(got.get('json') ?? '')).toBe('a"b\\c\n\x01\x1f\x7f \u00e9');
  });

  it.each([
    ['dec', '5 12345'],
    ['decmax', '20 18446744073709551615'],
    ['decover', '-1 777'],
    ['decover2', '-1 777'],
    ['decnone', '0 0'],
    ['decempty', '0 0'],
    ['decbounded', '2 12'],
    ['decbadmid', '2 12'],
    ['hex', '8 3735928559'],
    ['hexmax', '16 18446744073709551615'],
    ['hexover', '-1 777'],
    ['hexprefix', '1 0'],
    ['hexbad', '0 0'],
    ['oct', '4 493'],
    ['octbad', '0 0'],
    ['octstop', '3 83'],
    ['octmax', '22 18446744073709551615'],
    ['octover', '-1 777'],
    ['i64', '3 -42'],
    ['i64min', '20 -9223372036854775808'],
    ['i64max', '19 9223372036854775807'],
    ['i64under', '-1 777'],
    ['i64over', '-1 777'],
    ['i64sign', '0 0'],
    ['i64bounded', '0 0'],
  ])('parses %s (digits read, value; -1 on overflow leaves the value)', (name, want) => {
    expect(got.get(`p:${name}`)).toBe(want);
  });

  it('environment lookup and the debug switch', () => {
    expect(got.get('envlookup')).toBe('1x');
    expect(got.get('envmissing')).toBe('(none)');
    expect(got.get('envnull')).toBe('(none)');
    // "1" on, "0" off, "" off, unset off, "10" on
    expect(got.get('debugvalues')).toBe('10001');
    expect(got.get('debuginit')).toBe('01');
  });

  it('the protected descriptor range is protocol.h\'s', () => {
    expect(got.get('protectedrange')).toBe('820-839');
    expect(got.get('protected')).toBe('01100');
  });

  it('FNV-1a 64 of "a" is the published value', () => {
    expect(got.get('fnv')).toBe('af63dc4c8601ec8c');
  });

  it('log lines: the core and plugin prefixes, one newline even when cut', () => {
    expect(got.get('prefixplugin')).toBe('dmtcp file: ');
    expect(got.get('prefixcore')).toBe(`dmtcp[${pid}]: `);
    expect(run.stderr).toBe(`dmtcp file: fd 3: short\ndmtcp file: fd 4: a pa\ndmtcp[${pid}]: core 7\n`);
  });
});

describe('one copy of the toolkit', () => {
  // The runtime, the restart program and the plugins in this repository take
  // raw system calls and visibility attributes from the toolkit headers;
  // a private copy elsewhere is what these headers replaced.
  const roots = ['core/native', 'plugin-file/native', 'plugin-pid/native'].map((d) =>
    path.join(paths.packageRoot, '..', d),
  );
  function sources(dir: string): string[] {
    return readdirSync(dir, { withFileTypes: true, recursive: true })
      .filter((e) => e.isFile() && /\.[ch]$/.test(e.name))
      .map((e) => path.join(e.parentPath, e.name));
  }

  it.each([
    ['inline syscall instructions', /__asm__[^;]*"syscall"/],
    ['visibility attributes', /visibility\("(default|hidden)"\)/],
  ])('no native source outside include/dmtcp spells out %s', (_what, pattern) => {
    const offenders = roots.flatMap(sources).filter((f) => pattern.test(readFileSync(f, 'utf8')));
    expect(offenders.map((f) => path.relative(path.join(paths.packageRoot, '..'), f))).toEqual([]);
  });
});
