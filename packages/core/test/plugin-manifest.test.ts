// The "dmtcp" declaration in a plugin package's package.json: what is
// accepted, what it resolves to, and the one-line errors for the rest.
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hasDeclaration, parseManifest, PluginError, pluginNameProblem, readManifest } from '../src/plugin/manifest.ts';

const DIR = '/opt/plugins/pid';

function pkg(dmtcp: unknown, extra: Record<string, unknown> = {}): unknown {
  return { name: '@dmtcp/plugin-pid', version: '1.0.0', ...extra, dmtcp };
}

function problem(json: unknown, dir = DIR): string {
  try {
    parseManifest(json, dir);
  } catch (e) {
    expect(e).toBeInstanceOf(PluginError);
    const msg = (e as Error).message;
    expect(msg).not.toContain('\n');
    return msg;
  }
  throw new Error('expected the declaration to be rejected');
}

describe('parseManifest', () => {
  it('resolves a full declaration against the package directory', () => {
    const m = parseManifest(
      pkg({ plugin: 'pid', lib: 'build/libdmtcp_pid.so', coordinator: 'dist/coordinator.js', builtin: true, after: ['file', 'event'], fds: ['socket', 'epoll', 'socket'] }),
      DIR,
    );
    expect(m).toEqual({
      name: 'pid',
      packageName: '@dmtcp/plugin-pid',
      packageDir: DIR,
      lib: '/opt/plugins/pid/build/libdmtcp_pid.so',
      coordinator: '/opt/plugins/pid/dist/coordinator.js',
      builtin: true,
      after: ['file', 'event'],
      fds: ['socket', 'epoll'], options: [],
    });
  });

  it('defaults: not built in, no module, no ordering', () => {
    const m = parseManifest({ dmtcp: { plugin: 'x', lib: 'libx.so.1' } }, DIR);
    expect(m).toMatchObject({ name: 'x', packageName: null, coordinator: null, builtin: false, after: [], fds: [] });
    expect(m.lib).toBe('/opt/plugins/pid/libx.so.1');
  });

  it('drops repeated "after" names', () => {
    expect(parseManifest(pkg({ plugin: 'pid', lib: 'a.so', after: ['file', 'file'] }), DIR).after).toEqual(['file']);
  });

  it('says which file and which key is wrong', () => {
    const where = `${DIR}/package.json: `;
    expect(problem({ name: 'x' })).toBe(`${where}no "dmtcp" declaration (this is not a dmtcp plugin package)`);
    expect(problem([])).toBe(`${where}not a JSON object`);
    expect(problem(pkg('pid'))).toBe(`${where}"dmtcp" must be an object`);
    expect(problem(pkg({ plugin: 'pid', lib: 'a.so', afer: ['x'] }))).toMatch(/^\/opt\/plugins\/pid\/package\.json: unknown key "dmtcp\.afer"/);
    expect(problem(pkg({ plugin: 'x', lib: 'a.so', fds: 'file' }))).toBe(`${where}"dmtcp.fds" must be a list of descriptor kinds`);
    expect(problem(pkg({ plugin: 'x', lib: 'a.so', fds: ['epol'] }))).toMatch(/"dmtcp\.fds" names "epol", which is not a descriptor kind \(file, directory, /);
    expect(problem(pkg({ lib: 'a.so' }))).toBe(`${where}"dmtcp.plugin" must be the plugin name (a string)`);
    expect(problem(pkg({ plugin: 'Pid', lib: 'a.so' }))).toMatch(/plugin name "Pid" must be lowercase/);
    expect(problem(pkg({ plugin: 'core', lib: 'a.so' }))).toMatch(/plugin name "core" is reserved/);
    expect(problem(pkg({ plugin: 'x'.repeat(40), lib: 'a.so' }))).toMatch(/longer than 31 characters/);
    expect(problem(pkg({ plugin: 'pid' }))).toMatch(/"dmtcp\.lib" must be the path of the plugin library/);
    expect(problem(pkg({ plugin: 'pid', lib: '/usr/lib/libpid.so' }))).toMatch(/"dmtcp\.lib" must be a path relative to the package/);
    expect(problem(pkg({ plugin: 'pid', lib: '../other/libpid.so' }))).toMatch(/"dmtcp\.lib" must stay inside the package/);
    expect(problem(pkg({ plugin: 'pid', lib: 'build/pid.o' }))).toMatch(/"dmtcp\.lib" must name a shared library \(\.so\), not "build\/pid\.o"/);
    expect(problem(pkg({ plugin: 'pid', lib: 'a.so', coordinator: 'src/index.ts' }))).toMatch(/"dmtcp\.coordinator" must name a JavaScript module/);
    expect(problem(pkg({ plugin: 'pid', lib: 'a.so', coordinator: '../x.js' }))).toMatch(/"dmtcp\.coordinator" must stay inside/);
    expect(problem(pkg({ plugin: 'pid', lib: 'a.so', builtin: 'yes' }))).toMatch(/"dmtcp\.builtin" must be true or false/);
    expect(problem(pkg({ plugin: 'pid', lib: 'a.so', after: 'file' }))).toMatch(/"dmtcp\.after" must be a list of plugin names/);
    expect(problem(pkg({ plugin: 'pid', lib: 'a.so', after: ['File'] }))).toMatch(/"dmtcp\.after" names "File"/);
    expect(problem(pkg({ plugin: 'pid', lib: 'a.so', after: ['pid'] }))).toMatch(/plugin pid cannot load after itself/);
  });

  it('tells a declaration apart from a plain package', () => {
    expect(hasDeclaration({ dmtcp: {} })).toBe(true);
    expect(hasDeclaration({ name: 'x' })).toBe(false);
    expect(hasDeclaration(null)).toBe(false);
    expect(pluginNameProblem('socket-tcp_2')).toBeNull();
    expect(pluginNameProblem('2x')).not.toBeNull();
  });
});

describe('readManifest', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dmtcp-manifest-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads package.json and reports a missing or malformed one', () => {
    const good = path.join(dir, 'good');
    mkdirSync(good);
    writeFileSync(path.join(good, 'package.json'), JSON.stringify({ name: 'p', dmtcp: { plugin: 'p', lib: 'libp.so' } }));
    expect(readManifest(good)).toMatchObject({ name: 'p', packageDir: good, lib: path.join(good, 'libp.so') });

    const none = path.join(dir, 'none');
    mkdirSync(none);
    expect(() => readManifest(none)).toThrow(`${none}: no package.json (a plugin directory must be a package)`);

    const bad = path.join(dir, 'bad');
    mkdirSync(bad);
    writeFileSync(path.join(bad, 'package.json'), '{"dmtcp": ');
    expect(() => readManifest(bad)).toThrow(/bad\/package\.json: malformed JSON/);
  });
});
