// Checks a plugin library before anything is started: it exists, it is an
// x86-64 ELF shared object, and the dynamic loader finds everything it
// needs. The loader would otherwise print "cannot be preloaded: ignored" and
// run the program without the plugin, which nobody reads until a restart
// goes wrong.
import { execFile } from 'node:child_process';
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { PluginError } from './manifest.ts';

const ELF_MAGIC = 0x464c457f; // "\x7fELF" read little-endian
const ELFCLASS64 = 2;
const ELFDATA2LSB = 1;
const ET_REL = 1;
const ET_EXEC = 2;
const ET_DYN = 3;
const EM_X86_64 = 62;
const PT_DYNAMIC = 2;
const DT_NULL = 0n;
const DT_FLAGS_1 = 0x6ffffffbn;
const DF_1_PIE = 0x08000000n;

const MACHINES: Record<number, string> = { 3: 'i386', 40: 'ARM', 62: 'x86-64', 183: 'aarch64', 243: 'RISC-V', 21: 'PowerPC64', 22: 's390' };

export const ELF_HEADER_SIZE = 64;

export interface ElfLayout {
  phoff: number;
  phentsize: number;
  phnum: number;
}

/** Reads the 64-byte ELF header: the program header table's place, or why
 *  the file cannot be an x86-64 shared object. */
export function parseElfHeader(h: Buffer): ElfLayout | { problem: string } {
  if (h.length < 4 || h.readUInt32LE(0) !== ELF_MAGIC) return { problem: 'not an ELF file' };
  if (h.length < ELF_HEADER_SIZE) return { problem: 'truncated ELF file' };
  if (h[4] !== ELFCLASS64) return { problem: 'a 32-bit ELF file; plugins must be built for x86-64' };
  if (h[5] !== ELFDATA2LSB) return { problem: 'a big-endian ELF file; plugins must be built for x86-64' };
  const type = h.readUInt16LE(16);
  const machine = h.readUInt16LE(18);
  if (machine !== EM_X86_64) return { problem: `built for ${MACHINES[machine] ?? `machine ${machine}`}, not x86-64` };
  if (type === ET_REL) return { problem: 'an object file, not a shared library (link it with -shared)' };
  if (type === ET_EXEC) return { problem: 'an executable, not a shared library (link it with -shared)' };
  if (type !== ET_DYN) return { problem: `not a shared library (ELF type ${type})` };
  return { phoff: Number(h.readBigUInt64LE(32)), phentsize: h.readUInt16LE(54), phnum: h.readUInt16LE(56) };
}

function readAt(fd: number, pos: number, len: number): Buffer {
  const buf = Buffer.alloc(len);
  let got = 0;
  while (got < len) {
    const n = readSync(fd, buf, got, len - got, pos + got);
    if (n === 0) break;
    got += n;
  }
  return buf.subarray(0, got);
}

/** A position-independent executable is ET_DYN too; the loader refuses to
 *  preload one, so tell it apart by DF_1_PIE in its dynamic section. */
function isPie(fd: number, layout: ElfLayout): boolean {
  if (layout.phentsize < 56 || layout.phnum === 0 || layout.phnum > 512) return false;
  const table = readAt(fd, layout.phoff, layout.phentsize * layout.phnum);
  for (let i = 0; i + 56 <= table.length; i += layout.phentsize) {
    if (table.readUInt32LE(i) !== PT_DYNAMIC) continue;
    const off = Number(table.readBigUInt64LE(i + 8));
    const size = Math.min(Number(table.readBigUInt64LE(i + 32)), 1 << 20);
    const dyn = readAt(fd, off, size);
    for (let j = 0; j + 16 <= dyn.length; j += 16) {
      const tag = dyn.readBigInt64LE(j);
      if (tag === DT_NULL) break;
      if (tag === DT_FLAGS_1 && (dyn.readBigUInt64LE(j + 8) & DF_1_PIE) !== 0n) return true;
    }
  }
  return false;
}

/** The file exists, is readable and is an x86-64 ELF shared object.
 *  Messages read "plugin LABEL: problem"; LABEL names the file. */
export function checkLibraryFile(file: string, label: string): void {
  const fail = (why: string): never => {
    throw new PluginError(`plugin ${label}: ${why}`);
  };
  let st;
  try {
    st = statSync(file);
  } catch {
    return fail('no such file');
  }
  if (!st.isFile()) fail('not a regular file');
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    return fail(`cannot read it (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  try {
    const layout = parseElfHeader(readAt(fd, 0, ELF_HEADER_SIZE));
    if ('problem' in layout) fail(layout.problem);
    else if (isPie(fd, layout)) fail('an executable (PIE), not a shared library (link it with -shared)');
  } finally {
    closeSync(fd);
  }
}

const LOADERS = ['/lib64/ld-linux-x86-64.so.2', '/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2'];

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { env, timeout: 10_000, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Libraries the loader could not find, from `ld.so --list` or ldd output. */
export function missingDependencies(stdout: string, stderr: string): string[] {
  const missing: string[] = [];
  for (const line of stdout.split('\n')) {
    const m = /^\s*(\S+)\s+=>\s+not found/.exec(line);
    if (m && !missing.includes(m[1]!)) missing.push(m[1]!);
  }
  const e = /error while loading shared libraries: ([^:]+): cannot open shared object file/.exec(stderr);
  if (e && !missing.includes(e[1]!)) missing.push(e[1]!);
  return missing;
}

/**
 * Asks the dynamic loader (in its --list mode, which runs no code of the
 * library) whether the library's dependencies resolve with the target's
 * environment. Skipped when there is no x86-64 loader to ask.
 */
export async function checkDependencies(file: string, label: string, env: NodeJS.ProcessEnv): Promise<void> {
  const loader = LOADERS.find((l) => existsSync(l));
  const clean: NodeJS.ProcessEnv = { ...env };
  // What the user preloads has nothing to do with this library's needs, and
  // would be loaded into the loader's trace run.
  delete clean['LD_PRELOAD'];
  const res = loader ? await run(loader, ['--list', file], clean) : await run('ldd', [file], clean);
  if (!loader && res.code === -1) return; // no ldd either
  const where = `plugin ${label}`;
  const missing = missingDependencies(res.stdout, res.stderr);
  if (missing.length > 0) {
    throw new PluginError(`${where}: needs ${missing.join(', ')}, which the dynamic loader cannot find (install it or set LD_LIBRARY_PATH)`);
  }
  if (res.code !== 0) {
    const line = res.stderr.trim().split('\n').pop()?.replace(/^.*?: error while loading shared libraries: /, '') ?? '';
    throw new PluginError(`${where}: the dynamic loader cannot load it${line ? ` (${line})` : ''}`);
  }
}

/** Every check, for one library. */
export async function checkLibrary(file: string, label: string, env: NodeJS.ProcessEnv): Promise<void> {
  checkLibraryFile(file, label);
  await checkDependencies(file, label, env);
}
