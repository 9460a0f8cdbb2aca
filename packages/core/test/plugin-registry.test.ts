// Load order of plugins: user plugins as given, built-ins by their "after"
// lists (ties by name), the core last; --disable-plugin, cycles and
// duplicates.
import { describe, expect, it } from 'vitest';
import { PluginError, type PluginManifest } from '../src/plugin/manifest.ts';
import {
  composePlugins,
  libPluginName,
  orderBuiltins,
  splitPluginSpecs,
  type ComposeInput,
  type UserPlugin,
} from '../src/plugin/registry.ts';

const CORE = '/core/build/lib/libdmtcp.so';

function builtin(name: string, after: string[] = [], over: Partial<PluginManifest> = {}): PluginManifest {
  const dir = `/pkgs/plugin-${name}`;
  return {
    name, packageName: `@dmtcp/plugin-${name}`, packageDir: dir, lib: `${dir}/build/libdmtcp_${name}.so`,
    coordinator: `${dir}/dist/coordinator.js`, builtin: true, after, fds: [], options: [], ...over,
  };
}

function lib(spec: string, file = spec): UserPlugin {
  return { kind: 'lib', spec, lib: file };
}

function compose(over: Partial<ComposeInput>): ReturnType<typeof composePlugins> {
  return composePlugins({ user: [], installed: [], coreLib: CORE, ...over });
}

function names(input: Partial<ComposeInput>): string[] {
  return compose(input).map((e) => e.name);
}

function error(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(PluginError);
    return (e as Error).message;
  }
  throw new Error('expected a PluginError');
}

describe('specs', () => {
  it('splits colon lists in order and drops empty entries', () => {
    expect(splitPluginSpecs(['a.so:b.so', 'c.so', '::d.so:'])).toEqual(['a.so', 'b.so', 'c.so', 'd.so']);
    expect(splitPluginSpecs([])).toEqual([]);
  });

  it('names bare libraries after their file', () => {
    expect(libPluginName('/x/libdmtcp_trace.so')).toBe('trace');
    expect(libPluginName('/x/libfoo.so.1.2')).toBe('foo');
    expect(libPluginName('bar.so')).toBe('bar');
    expect(libPluginName('/x/lib.so')).toBe('lib');
  });
});

describe('composePlugins', () => {
  it('with nothing installed loads just the core', () => {
    expect(compose({})).toEqual([{ name: 'core', lib: CORE, source: 'core', coordinator: null, packageDir: null, label: 'core' }]);
  });

  it('puts user plugins first, in the order given, then built-ins, then the core', () => {
    const pkg = builtin('mine', [], { builtin: false, packageDir: '/home/u/mine', lib: '/home/u/mine/libmine.so', coordinator: null });
    const entries = compose({
      user: [lib('./libzeta.so', '/w/libzeta.so'), { kind: 'package', spec: '../mine', manifest: pkg }, lib('/w/libalpha.so')],
      installed: [builtin('pid'), builtin('file')],
    });
    expect(entries.map((e) => [e.name, e.source])).toEqual([
      ['zeta', 'user'], ['mine', 'user'], ['alpha', 'user'], ['file', 'builtin'], ['pid', 'builtin'], ['core', 'core'],
    ]);
    expect(entries[0]).toEqual({ name: 'zeta', lib: '/w/libzeta.so', source: 'user', coordinator: null, packageDir: null, label: './libzeta.so' });
    expect(entries[1]).toMatchObject({ lib: '/home/u/mine/libmine.so', packageDir: '/home/u/mine', label: '../mine' });
    expect(entries[4]).toMatchObject({ coordinator: '/pkgs/plugin-pid/dist/coordinator.js', label: 'pid' });
  });

  it('leaves out installed packages that are not built in', () => {
    expect(names({ installed: [builtin('pid'), builtin('extra', [], { builtin: false })] })).toEqual(['pid', 'core']);
  });

  it('orders built-ins by "after", ties by name, whatever the discovery order', () => {
    const installed = [builtin('socket', ['file', 'event']), builtin('timer'), builtin('file', ['pid']), builtin('pid'), builtin('event', ['file'])];
    const expected = ['pid', 'file', 'event', 'socket', 'timer', 'core'];
    expect(names({ installed })).toEqual(expected);
    expect(names({ installed: [...installed].reverse() })).toEqual(expected);
  });

  it('ignores "after" names that are not loaded', () => {
    expect(names({ installed: [builtin('file', ['pid', 'nonexistent']), builtin('aaa')] })).toEqual(['aaa', 'file', 'core']);
    expect(names({ installed: [builtin('file', ['pid']), builtin('pid')], disabled: ['pid'] })).toEqual(['file', 'core']);
  });

  it('--disable-plugin removes a built-in and rejects other names', () => {
    expect(names({ installed: [builtin('pid'), builtin('file')], disabled: ['file'] })).toEqual(['pid', 'core']);
    expect(error(() => compose({ installed: [builtin('pid'), builtin('file')], disabled: ['sockets'] }))).toBe(
      '--disable-plugin sockets: no built-in plugin of that name (installed: file, pid)',
    );
    expect(error(() => compose({ user: [lib('/w/libx.so')], disabled: ['x'] }))).toBe(
      '--disable-plugin x: no built-in plugin of that name (installed: none)',
    );
  });

  it('reports a cycle of "after" lists, naming its members', () => {
    const msg = error(() => compose({ installed: [builtin('a', ['c']), builtin('b', ['a']), builtin('c', ['b']), builtin('d')] }));
    expect(msg).toMatch(/^the "after" lists of plugins a, b, c form a cycle \(/);
    expect(msg).toMatch(/\((a after c after b after a|b after a after c after b|c after b after a after c)\)$/);
    expect(error(() => orderBuiltins([builtin('x', ['y']), builtin('y', ['x'])]))).toMatch(/plugins x, y form a cycle/);
  });

  it('rejects duplicates', () => {
    expect(error(() => compose({ user: [lib('a.so', '/w/liba.so'), lib('/w/liba.so')] }))).toBe('plugin /w/liba.so: given twice');
    const pid = builtin('pid');
    expect(error(() => compose({ user: [lib('pid.so', pid.lib)], installed: [pid] }))).toBe(
      'plugin pid.so: this is the built-in plugin pid, loaded anyway (--disable-plugin pid to load it earlier)',
    );
    expect(names({ user: [{ kind: 'package', spec: pid.packageDir, manifest: pid }], installed: [pid], disabled: ['pid'] })).toEqual(['pid', 'core']);
    expect(error(() => compose({ user: [lib('/w/libpid.so')], installed: [pid] }))).toBe(
      'plugin /w/libpid.so: a built-in plugin is also named pid (--disable-plugin pid to replace it)',
    );
    expect(error(() => compose({ user: [lib('x/libt.so', '/x/libt.so'), lib('y/libt.so', '/y/libt.so')] }))).toBe(
      'plugin y/libt.so: another plugin is also named t (x/libt.so)',
    );
    expect(error(() => compose({ user: [lib('./libdmtcp.so', CORE)] }))).toBe(
      'plugin ./libdmtcp.so: this is the core runtime, which is always loaded last',
    );
    expect(error(() => compose({ installed: [builtin('pid'), builtin('pid', [], { packageDir: '/other' })] }))).toBe(
      'two installed packages declare plugin pid: /pkgs/plugin-pid and /other',
    );
  });
});
