// Options plugins declare in their manifest: validation, parsing a command
// line against them, the environment they become, help, and the messages
// for options nobody loaded offers.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { COMMON_OPTIONS, parseArgs, UsageError } from '../src/cli/args.ts';
import { describeUnknownOption, everyOptionDef, formatPluginOptions, manifestsOfLibs, pluginOptionSet, pluginOptionsEnv, type OptionSource } from '../src/cli/plugin-options.ts';
import { parseManifest, PluginError } from '../src/plugin/manifest.ts';
import { parseOptionDecls, type PluginOption } from '../src/plugin/options.ts';

const FILE_PKG = path.resolve(import.meta.dirname, '../../plugin-file');

function pkg(options: unknown): unknown {
  return { name: '@x/plugin-x', dmtcp: { plugin: 'x', lib: 'build/libx.so', options } };
}

function decls(raw: unknown): PluginOption[] {
  const r = parseOptionDecls(raw);
  if (!Array.isArray(r)) throw new Error(r.problem);
  return r;
}

const X: OptionSource = {
  plugin: 'x',
  options: decls([
    { name: 'fast', commands: ['launch'], type: 'flag', help: 'go fast', env: 'X_FAST' },
    { name: 'mode', commands: ['launch', 'restart'], type: 'enum', values: ['a', 'b', 'c'], default: 'a', help: 'the mode', env: 'X_MODE' },
    { name: 'tag', commands: ['restart'], type: 'string', repeatable: true, help: 'tags', env: 'X_TAGS' },
    { name: 'map', commands: ['restart'], type: 'path-pair', help: 'moves', env: 'X_MAP' },
  ]),
};
const CORE = { ckptdir: { type: 'string' }, ...COMMON_OPTIONS } as const;

describe('option declarations', () => {
  it('are read from the manifest, defaults filled in', () => {
    const m = parseManifest(pkg([{ name: 'map', commands: ['restart'], type: 'path-pair', help: 'moves', env: 'X_MAP' }]), '/p/x');
    expect(m.options).toEqual([{ name: 'map', commands: ['restart'], type: 'path-pair', help: 'moves', env: 'X_MAP', repeatable: true }]);
    expect(parseManifest(pkg(undefined), '/p/x').options).toEqual([]);
  });

  it.each([
    ['not a list', { name: 'a' }, /"dmtcp.options" must be a list/],
    ['bad name', [{ name: '--a', commands: ['launch'], type: 'flag', help: 'h', env: 'A' }], /\[0\] \(--\-\-a\): "name" must be/],
    ['no commands', [{ name: 'a', commands: [], type: 'flag', help: 'h', env: 'A' }], /"commands" must list some of launch, restart/],
    ['unknown command', [{ name: 'a', commands: ['status'], type: 'flag', help: 'h', env: 'A' }], /"commands"/],
    ['unknown type', [{ name: 'a', commands: ['launch'], type: 'number', help: 'h', env: 'A' }], /"type" must be one of flag, string, enum, path-pair/],
    ['no help', [{ name: 'a', commands: ['launch'], type: 'flag', env: 'A' }], /"help" must be one line/],
    ['bad env', [{ name: 'a', commands: ['launch'], type: 'flag', help: 'h', env: 'a-b' }], /"env" must name an environment variable/],
    ['core env', [{ name: 'a', commands: ['launch'], type: 'flag', help: 'h', env: 'LD_PRELOAD' }], /belongs to the core/],
    ['enum without values', [{ name: 'a', commands: ['launch'], type: 'enum', help: 'h', env: 'A' }], /"values" must list at least two/],
    ['default not a value', [{ name: 'a', commands: ['launch'], type: 'enum', values: ['x', 'y'], default: 'z', help: 'h', env: 'A' }], /"default" z is not one of/],
    ['repeatable flag', [{ name: 'a', commands: ['launch'], type: 'flag', repeatable: true, help: 'h', env: 'A' }], /cannot be repeatable/],
    ['unknown key', [{ name: 'a', commands: ['launch'], type: 'flag', help: 'h', env: 'A', short: 'a' }], /unknown key "short"/],
    ['twice', [{ name: 'a', commands: ['launch'], type: 'flag', help: 'h', env: 'A' }, { name: 'a', commands: ['launch'], type: 'flag', help: 'h', env: 'B' }], /declared twice/],
    ['shared env', [{ name: 'a', commands: ['launch'], type: 'flag', help: 'h', env: 'A' }, { name: 'b', commands: ['launch'], type: 'flag', help: 'h', env: 'A' }], /--a and --b both use A/],
  ])('refuses %s with one line naming the plugin', (_what, options, re) => {
    let err: unknown;
    try {
      parseManifest(pkg(options), '/p/x');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PluginError);
    const msg = (err as Error).message;
    expect(msg).toMatch(/^\/p\/x\/package\.json: plugin x: "dmtcp\.options"/);
    expect(msg).toMatch(re);
    expect(msg).not.toContain('\n');
  });

  it('of plugin-file are valid and name the variables its native half reads', () => {
    const m = parseManifest(JSON.parse(readFileSync(path.join(FILE_PKG, 'package.json'), 'utf8')), FILE_PKG);
    expect(Object.fromEntries(m.options.map((o) => [o.name, [o.commands.join(','), o.env]]))).toEqual({
      'ckpt-open-files': ['launch', 'DMTCP_CKPT_OPEN_FILES'],
      'path-map': ['restart', 'DMTCP_PATH_MAP'],
      'restore-open-files': ['restart', 'DMTCP_RESTORE_FILE_CONTENTS'],
      'missing-files': ['restart', 'DMTCP_FILE_MISSING'],
    });
    const native = readdirSync(path.join(FILE_PKG, 'native'), { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile() && /\.[ch]$/.test(e.name))
      .map((e) => readFileSync(path.join(e.parentPath, e.name), 'utf8'))
      .join('\n');
    for (const o of m.options) expect(native, o.env).toContain(`"${o.env}"`);
  });
});

describe('a command line against declared options', () => {
  const restart = pluginOptionSet([X], 'restart', CORE);
  const launch = pluginOptionSet([X], 'launch', CORE);

  it('offers each option on its commands only', () => {
    expect(Object.keys(launch.defs).sort()).toEqual(['fast', 'mode']);
    expect(Object.keys(restart.defs).sort()).toEqual(['map', 'mode', 'tag']);
  });

  it('turns values into the environment', () => {
    const argv = ['--mode', 'b', '--tag', 't1', '--tag=t2', '--map', 'old=/new', '--map', '/a=b', '--ckptdir', 'd', 'img'];
    const { values, positionals } = parseArgs(argv, { ...CORE, ...restart.defs });
    expect(positionals).toEqual(['img']);
    expect(pluginOptionsEnv(restart, values, '/cwd')).toEqual({ X_MODE: 'b', X_TAGS: 't1:t2', X_MAP: '/cwd/old=/new:/a=/cwd/b' });
    const l = parseArgs(['--fast', 'prog', '--mode', 'zz'], { ...CORE, ...launch.defs }, { stopAtPositional: true });
    expect(pluginOptionsEnv(launch, l.values, '/')).toEqual({ X_FAST: '1' });
    expect(l.positionals).toEqual(['prog', '--mode', 'zz']);
    expect(pluginOptionsEnv(restart, {}, '/')).toEqual({});
  });

  it('refuses bad values in one line', () => {
    const env = (argv: string[]) => pluginOptionsEnv(restart, parseArgs(argv, { ...CORE, ...restart.defs }).values, '/');
    expect(() => env(['--mode', 'd'])).toThrow(new UsageError('--mode must be a, b or c, not d'));
    expect(() => env(['--map', 'nothing'])).toThrow(new UsageError('--map nothing: expected OLD=NEW'));
    expect(() => env(['--map', '/a:b=/c'])).toThrow(/paths with ':' or '=' cannot be mapped/);
  });

  it('refuses an option two plugins or the core both declare', () => {
    const clash: OptionSource = { plugin: 'y', options: decls([{ name: 'mode', commands: ['restart'], type: 'flag', help: 'h', env: 'Y' }]) };
    expect(() => pluginOptionSet([X, clash], 'restart', CORE)).toThrow('plugins x and y both declare option --mode');
    const core: OptionSource = { plugin: 'y', options: decls([{ name: 'ckptdir', commands: ['restart'], type: 'flag', help: 'h', env: 'Y' }]) };
    expect(() => pluginOptionSet([core], 'restart', CORE)).toThrow('plugin y declares option --ckptdir, which dmtcp restart has itself');
  });

  it('says which plugin offers an option that is not loaded', () => {
    const none = pluginOptionSet([], 'restart', CORE);
    const describeUnknown = (name: string) => describeUnknownOption(name, 'restart', [], [X]);
    expect(() => parseArgs(['--tag', 'a'], { ...CORE, ...none.defs }, { describeUnknown })).toThrow(
      new UsageError('unknown option --tag: it is an option of plugin x, which is not loaded'),
    );
    expect(() => parseArgs(['--fast'], CORE, { describeUnknown })).toThrow('unknown option --fast (plugin x offers it on dmtcp launch only)');
    expect(() => parseArgs(['--nope'], CORE, { describeUnknown })).toThrow(new UsageError('unknown option --nope'));
    expect(() => parseArgs(['--constructor'], CORE)).toThrow(new UsageError('unknown option --constructor'));
  });

  it('reads leniently up to the first unknown option', () => {
    const r = parseArgs(['--ckptdir', 'd', '--later', 'x', '--help'], CORE, { stopAtUnknown: true });
    expect(r.values).toEqual({ ckptdir: 'd' });
  });

  it('lists them in help under their plugin, with defaults', () => {
    expect(formatPluginOptions(restart)).toBe([
      '',
      '',
      'options of plugin x:',
      '      --mode a|b|c   the mode (default a)',
      '      --tag VALUE    tags',
      '      --map OLD=NEW  moves',
    ].join('\n'));
    expect(formatPluginOptions(pluginOptionSet([], 'launch', CORE))).toBe('');
  });
});

describe('the plugins a restart uses', () => {
  it('are the plugin packages of the libraries its processes had mapped', () => {
    const lib = path.join(FILE_PKG, 'build', 'libdmtcp_file.so');
    const libc = '/usr/lib/x86_64-linux-gnu/libc.so.6';
    expect(manifestsOfLibs([libc, lib, '/tmp/no-such.so', lib, '/bin/sh']).map((m) => m.name)).toEqual(['file']);
  });

  it('parse first against every option anyone declares, clashes left for later', () => {
    const y: OptionSource = { plugin: 'y', options: decls([{ name: 'tag', commands: ['restart'], type: 'flag', help: 'h', env: 'Y' }]) };
    expect(Object.keys(everyOptionDef([X, y], 'restart', CORE)).sort()).toEqual(['map', 'mode', 'tag']);
    expect(everyOptionDef([X, y], 'restart', CORE)['tag']).toMatchObject({ type: 'string', multiple: true });
  });
});

describe("the core's sources", () => {
  it("no longer carry plugin-file's options or the variables they set", () => {
    const src = path.resolve(import.meta.dirname, '../src');
    const names = ['ckpt-open-files', 'path-map', 'restore-open-files', 'missing-files', 'DMTCP_CKPT_OPEN_FILES', 'DMTCP_PATH_MAP', 'DMTCP_RESTORE_FILE_CONTENTS', 'DMTCP_FILE_MISSING'];
    const hits: string[] = [];
    for (const e of readdirSync(src, { recursive: true, withFileTypes: true })) {
      if (!e.isFile() || !e.name.endsWith('.ts')) continue;
      const text = readFileSync(path.join(e.parentPath, e.name), 'utf8');
      for (const n of names) if (text.includes(n)) hits.push(`${path.relative(src, path.join(e.parentPath, e.name))}: ${n}`);
    }
    expect(hits).toEqual([]);
  });
});
