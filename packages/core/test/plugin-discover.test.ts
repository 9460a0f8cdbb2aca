// Finding plugin packages on disk and checking plugin libraries: installed
// built-ins next to the core, DMTCP_PLUGIN_PATH, --with-plugin entries, the
// package of a reported library, and the ELF checks.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkLibraryFile, ELF_HEADER_SIZE, missingDependencies, parseElfHeader } from '../src/plugin/check.ts';
import { discoverInstalled, findPluginPackage, resolveUserPlugin } from '../src/plugin/discover.ts';
import { paths } from '../src/paths.ts';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'dmtcp-discover-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function pkgDir(dir: string, json: Record<string, unknown>): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify(json));
  return dir;
}

function decl(name: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { plugin: name, lib: `build/libdmtcp_${name}.so`, builtin: true, ...extra };
}

describe('discoverInstalled', () => {
  const ws = path.join(tmp, 'ws');
  const core = pkgDir(path.join(ws, 'packages', 'core'), { name: '@dmtcp/core' });
  const pid = pkgDir(path.join(ws, 'packages', 'plugin-pid'), { name: '@dmtcp/plugin-pid', dmtcp: decl('pid') });
  pkgDir(path.join(ws, 'packages', 'plugin-helpers'), { name: '@dmtcp/plugin-helpers' });
  pkgDir(path.join(ws, 'packages', 'plugin-stray'), { name: 'stray', dmtcp: decl('stray') });
  pkgDir(path.join(ws, 'packages', 'timer'), { name: '@dmtcp/plugin-timer', dmtcp: decl('timer') });
  const file = pkgDir(path.join(ws, 'node_modules', '@dmtcp', 'plugin-file'), { name: '@dmtcp/plugin-file', dmtcp: decl('file') });
  mkdirSync(path.join(core, 'node_modules', '@dmtcp'), { recursive: true });
  symlinkSync(pid, path.join(core, 'node_modules', '@dmtcp', 'plugin-pid'));
  const extra = pkgDir(path.join(tmp, 'extra'), { name: 'x', dmtcp: decl('extra', { builtin: false }) });

  it('finds @dmtcp/plugin-* packages next to the core and in node_modules above it, each once', () => {
    const found = discoverInstalled({ coreRoot: core, env: {} });
    expect(found.map((m) => [m.name, m.packageDir]).sort()).toEqual([['file', file], ['pid', pid]]);
  });

  it('adds the packages of DMTCP_PLUGIN_PATH', () => {
    const found = discoverInstalled({ coreRoot: core, env: { DMTCP_PLUGIN_PATH: `${extra}::${pid}` } });
    expect(found.map((m) => m.name).sort()).toEqual(['extra', 'file', 'pid']);
    expect(() => discoverInstalled({ coreRoot: core, env: { DMTCP_PLUGIN_PATH: path.join(tmp, 'nope') } })).toThrow(
      `DMTCP_PLUGIN_PATH: ${path.join(tmp, 'nope')} is not a directory`,
    );
  });

  it('fails on a broken declaration rather than running without the plugin', () => {
    const ws2 = path.join(tmp, 'ws2');
    const core2 = pkgDir(path.join(ws2, 'core'), { name: '@dmtcp/core' });
    pkgDir(path.join(ws2, 'plugin-bad'), { name: '@dmtcp/plugin-bad', dmtcp: { plugin: 'bad' } });
    expect(() => discoverInstalled({ coreRoot: core2, env: {} })).toThrow(/plugin-bad\/package\.json: "dmtcp\.lib" must be/);
  });

  it('finds nothing but the real workspace for the real core', () => {
    for (const m of discoverInstalled({ coreRoot: paths.packageRoot, env: {} })) expect(m.packageName).toMatch(/^@dmtcp\/plugin-/);
  });
});

describe('resolveUserPlugin', () => {
  it('takes files as libraries and directories as packages', () => {
    const dir = pkgDir(path.join(tmp, 'user', 'mine'), { name: 'mine', dmtcp: decl('mine', { builtin: false }) });
    writeFileSync(path.join(tmp, 'user', 'libx.so'), '');
    expect(resolveUserPlugin('libx.so', path.join(tmp, 'user'))).toEqual({ kind: 'lib', spec: 'libx.so', lib: path.join(tmp, 'user', 'libx.so') });
    const r = resolveUserPlugin('mine', path.join(tmp, 'user'));
    expect(r.kind === 'package' && r.manifest.lib).toBe(path.join(dir, 'build', 'libdmtcp_mine.so'));
    expect(() => resolveUserPlugin('nope.so', tmp)).toThrow('plugin nope.so: no such file');
    mkdirSync(path.join(tmp, 'user', 'empty'));
    expect(() => resolveUserPlugin('empty', path.join(tmp, 'user'))).toThrow('plugin empty: a directory without package.json');
    pkgDir(path.join(tmp, 'user', 'plain'), { name: 'plain' });
    expect(() => resolveUserPlugin('plain', path.join(tmp, 'user'))).toThrow(/^plugin plain: .*plain\/package\.json: no "dmtcp" declaration/);
  });
});

describe('findPluginPackage', () => {
  it('walks up from the library to the nearest declaration, which must name it', () => {
    const dir = pkgDir(path.join(tmp, 'found', 'pkg'), { name: 'p', dmtcp: decl('p') });
    mkdirSync(path.join(dir, 'build', 'sub'), { recursive: true });
    const lib = path.join(dir, 'build', 'libdmtcp_p.so');
    writeFileSync(lib, '');
    expect(findPluginPackage(lib)?.manifest.packageDir).toBe(dir);
    const other = path.join(dir, 'build', 'sub', 'libother.so');
    writeFileSync(other, '');
    expect(() => findPluginPackage(other)).toThrow(/lies in package .*pkg, whose declaration names another library/);
    expect(findPluginPackage(path.join(tmp, 'libnothing.so'))).toBeNull();
  });
});

describe('library checks', () => {
  const header = (): Buffer => {
    const h = Buffer.alloc(ELF_HEADER_SIZE);
    h.write('\x7fELF', 0, 'latin1');
    h[4] = 2;
    h[5] = 1;
    h.writeUInt16LE(3, 16);
    h.writeUInt16LE(62, 18);
    h.writeBigUInt64LE(64n, 32);
    h.writeUInt16LE(56, 54);
    h.writeUInt16LE(0, 56);
    return h;
  };
  const problemOf = (h: Buffer): string | null => {
    const r = parseElfHeader(h);
    return 'problem' in r ? r.problem : null;
  };

  it('reads the ELF header', () => {
    expect(parseElfHeader(header())).toEqual({ phoff: 64, phentsize: 56, phnum: 0 });
    expect(problemOf(Buffer.from('#!/bin/sh\n'))).toBe('not an ELF file');
    expect(problemOf(header().subarray(0, 20))).toBe('truncated ELF file');
    let h = header();
    h[4] = 1;
    expect(problemOf(h)).toMatch(/^a 32-bit ELF file/);
    h = header();
    h[5] = 2;
    expect(problemOf(h)).toMatch(/^a big-endian ELF file/);
    h = header();
    h.writeUInt16LE(183, 18);
    expect(problemOf(h)).toBe('built for aarch64, not x86-64');
    h = header();
    h.writeUInt16LE(1, 16);
    expect(problemOf(h)).toMatch(/^an object file, not a shared library/);
    h = header();
    h.writeUInt16LE(2, 16);
    expect(problemOf(h)).toMatch(/^an executable, not a shared library/);
  });

  it('finds missing dependencies in the loader output', () => {
    const list = '\tlinux-vdso.so.1 (0x00007ffd)\n\tlibdep.so => not found\n\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x7f)\n';
    expect(missingDependencies(list, '')).toEqual(['libdep.so']);
    const err = './libp.so: error while loading shared libraries: libdep.so: cannot open shared object file: No such file or directory\n';
    expect(missingDependencies('', err)).toEqual(['libdep.so']);
    expect(missingDependencies(list, err)).toEqual(['libdep.so']);
    expect(missingDependencies('\tlibc.so.6 => /lib/libc.so.6 (0x1)\n', '')).toEqual([]);
  });

  it('checks files on disk', () => {
    const text = path.join(tmp, 'text.so');
    writeFileSync(text, 'not a library');
    expect(() => checkLibraryFile(text, 'text.so')).toThrow('plugin text.so: not an ELF file');
    expect(() => checkLibraryFile(tmp, 'd')).toThrow('plugin d: not a regular file');
    expect(() => checkLibraryFile(path.join(tmp, 'none.so'), 'none.so')).toThrow('plugin none.so: no such file');
    if (existsSync(paths.libdmtcp)) expect(() => checkLibraryFile(paths.libdmtcp, 'libdmtcp.so')).not.toThrow();
    // A position-independent executable is ET_DYN like a library.
    const exe = ['/bin/true', '/usr/bin/true'].find((f) => existsSync(f) && readFileSync(f).readUInt16LE(16) === 3);
    if (exe) expect(() => checkLibraryFile(exe, exe)).toThrow(/an executable \(PIE\), not a shared library/);
  });
});
