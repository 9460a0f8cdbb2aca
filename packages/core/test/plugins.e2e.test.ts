// Plugins at launch: the load order `dmtcp plugins` reports, bad plugins
// stopping launch before the program starts, and a plugin whose coordinator
// module answers a barrier its C half calls during a real checkpoint.
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, test } from 'vitest';
import { paths } from '../src/paths.ts';
import {
  checkpoint, cleanup, compileFixture, coreFixture, launch, makeTmpDir, parseJsonOutput, runCli, startCoordinator,
  status, waitForProcesses, type Proc,
} from '../src/testing/index.ts';

const run = promisify(execFile);

afterEach(cleanup);

/** A plugin library from C source, built against the public header. */
async function buildPlugin(dir: string, name: string, source: string): Promise<string> {
  const src = path.join(dir, `${name}.c`);
  const lib = path.join(dir, `lib${name}.so`);
  writeFileSync(src, source);
  await run(process.env.CC ?? 'gcc', ['-shared', '-fPIC', '-O1', '-Wall', '-I', paths.includeDir, '-o', lib, src]);
  return lib;
}

/** A plugin that only passes events on, logging one of them. */
const PASS_THROUGH = (tag: string): string => `#include "dmtcp/plugin.h"
void dmtcp_process_event(DmtcpEvent_t event, DmtcpEventData_t *data) {
  if (event == DMTCP_EVENT_RESUME) dmtcp_log("${tag} resume");
  NEXT_DMTCP_PROCESS_EVENT(event, data);
}
`;

interface Listed {
  name: string;
  lib: string;
  source: string;
  coordinator: string | null;
  package: string | null;
}

async function listPlugins(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Listed[]> {
  const res = await runCli(['plugins', '--json', ...args], { env });
  expect(res.code, res.stderr).toBe(0);
  return parseJsonOutput(res.stdout, 'dmtcp plugins --json')['plugins'] as unknown as Listed[];
}

/** A plugin package directory around a copy of `lib`. */
function pluginPackage(root: string, name: string, lib: string, decl: Record<string, unknown> = {}): string {
  const dir = path.join(root, name);
  mkdirSync(path.join(dir, 'build'), { recursive: true });
  copyFileSync(lib, path.join(dir, 'build', `libdmtcp_${name}.so`));
  const dmtcp = { plugin: name, lib: `build/libdmtcp_${name}.so`, builtin: false, ...decl };
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: `e2e-${name}`, private: true, type: 'module', dmtcp }, null, 2), { mode: 0o644 });
  return dir;
}

describe('dmtcp plugins', () => {
  test('lists user plugins as given, then built-ins by their order, then the core', async () => {
    const dir = await makeTmpDir('dmtcp-plugins-');
    const a = await buildPlugin(dir, 'first', PASS_THROUGH('first'));
    const b = await buildPlugin(dir, 'second', PASS_THROUGH('second'));

    const one = await listPlugins(['--with-plugin', `${a}:${b}`]);
    expect(one.slice(0, 2)).toEqual([
      { name: 'first', lib: a, source: 'user', coordinator: null, package: null },
      { name: 'second', lib: b, source: 'user', coordinator: null, package: null },
    ]);
    expect(one.at(-1)).toEqual({ name: 'core', lib: paths.libdmtcp, source: 'core', coordinator: null, package: null });
    expect(one.slice(2, -1).every((p) => p.source === 'builtin')).toBe(true);

    const two = await listPlugins(['--with-plugin', b, '--with-plugin', a]);
    expect(two.slice(0, 2).map((p) => p.name)).toEqual(['second', 'first']);

    // Built-ins from DMTCP_PLUGIN_PATH: "after" beats name order.
    const omega = pluginPackage(dir, 'e2e-omega', a, { builtin: true });
    const alpha = pluginPackage(dir, 'e2e-alpha', b, { builtin: true, after: ['e2e-omega'] });
    const env = { DMTCP_PLUGIN_PATH: `${alpha}:${omega}` };
    const withBuiltins = await listPlugins(['--with-plugin', a], env);
    expect(withBuiltins[0]?.name).toBe('first');
    const ours = withBuiltins.filter((p) => p.name.startsWith('e2e-'));
    expect(ours.map((p) => [p.name, p.source, p.package])).toEqual([['e2e-omega', 'builtin', omega], ['e2e-alpha', 'builtin', alpha]]);
    const disabled = await listPlugins(['--disable-plugin', 'e2e-omega'], env);
    expect(disabled.filter((p) => p.name.startsWith('e2e-')).map((p) => p.name)).toEqual(['e2e-alpha']);

    const text = await runCli(['plugins', '--with-plugin', a]);
    expect(text.code).toBe(0);
    expect(text.stdout.split('\n')[1]).toMatch(new RegExp(`^1\\s+first\\s+user\\s+${a.replace(/[.]/g, '\\.')}\\s+-$`));
  });

  test('reports a broken plugin as launch would', async () => {
    const dir = await makeTmpDir('dmtcp-plugins-');
    const notElf = path.join(dir, 'libtext.so');
    writeFileSync(notElf, 'just text\n');
    const r = await runCli(['plugins', '--with-plugin', notElf]);
    expect([r.code, r.stderr]).toEqual([1, `dmtcp plugins: plugin ${notElf}: not an ELF file\n`]);
    const cycle = [pluginPackage(dir, 'e2e-x', paths.libdmtcp, { builtin: true, after: ['e2e-y'] }),
      pluginPackage(dir, 'e2e-y', paths.libdmtcp, { builtin: true, after: ['e2e-x'] })];
    const c = await runCli(['plugins'], { env: { DMTCP_PLUGIN_PATH: cycle.join(':') } });
    expect([c.code, c.stderr]).toEqual([1, 'dmtcp plugins: the "after" lists of plugins e2e-x, e2e-y form a cycle (e2e-x after e2e-y after e2e-x)\n']);
  });
});

describe('dmtcp launch with plugins', () => {
  /** Launch must fail with exactly this line, and the program never run. */
  async function expectRefused(plugin: string, line: string): Promise<void> {
    const coord = await startCoordinator();
    const dir = await makeTmpDir('dmtcp-refused-');
    const marker = path.join(dir, 'started');
    const res = await runCli(
      ['launch', '--join-coordinator', '--coord-port', String(coord.port), '--with-plugin', plugin, '/bin/sh', '-c', `echo yes > ${marker}`],
      { cwd: dir },
    );
    expect(res.code, res.stderr).toBe(1);
    expect(res.stderr).toBe(`${line}\n`);
    expect(res.stdout).toBe('');
    expect(existsSync(marker)).toBe(false);
    expect((await status(coord.port)).num_processes).toBe(0);
  }

  test('a missing plugin is one line and exit 1, before the program starts', async () => {
    await expectRefused('/missing.so', 'dmtcp launch: plugin /missing.so: no such file');
  });

  test('a file that is not a library is refused the same way', async () => {
    const dir = await makeTmpDir('dmtcp-plugins-');
    const notElf = path.join(dir, 'libnotes.so');
    writeFileSync(notElf, '#!/bin/sh\necho not a library\n');
    await expectRefused(notElf, `dmtcp launch: plugin ${notElf}: not an ELF file`);
  });

  test('a library whose dependencies are missing is refused', async () => {
    const dir = await makeTmpDir('dmtcp-plugins-');
    const depDir = path.join(dir, 'deps');
    mkdirSync(depDir);
    const dep = await buildPlugin(depDir, 'e2edep', 'int e2edep(void) { return 1; }\n');
    const src = path.join(dir, 'needy.c');
    writeFileSync(src, 'int e2edep(void);\nint needy(void) { return e2edep(); }\n');
    const lib = path.join(dir, 'libneedy.so');
    await run('gcc', ['-shared', '-fPIC', '-o', lib, src, '-L', path.dirname(dep), '-le2edep']);
    await expectRefused(lib, `dmtcp launch: plugin ${lib}: needs libe2edep.so, which the dynamic loader cannot find (install it or set LD_LIBRARY_PATH)`);
  });

  test('a plugin package with a coordinator module: the module answers the C half\'s barrier and calls', async () => {
    const dir = await makeTmpDir('dmtcp-tplugin-');
    const lib = await buildPlugin(dir, 't', `#include <string.h>
#include "dmtcp/plugin.h"
static void call(const char *name) {
  char reply[64];
  size_t len = sizeof reply - 1;
  int rc = dmtcp_coordinator_call(name, "ping", 4, reply, &len);
  reply[rc == DMTCP_NS_OK ? len : 0] = 0;
  dmtcp_log("t call %s: rc=%d %s", name, rc, reply);
}
void dmtcp_process_event(DmtcpEvent_t event, DmtcpEventData_t *data) {
  if (event == DMTCP_EVENT_INIT) {
    call("t:echo");
    call("t:missing");
    call("t:boom");
    char small[2];
    size_t len = sizeof small;
    int rc = dmtcp_coordinator_call("t:echo", "ping", 4, small, &len);
    dmtcp_log("t small: rc=%d len=%d", rc, (int)len);
  }
  if (event == DMTCP_EVENT_DRAIN) {
    const char *me = dmtcp_get_uniquepid_str();
    char reply[256];
    size_t len = sizeof reply - 1;
    int rc = dmtcp_global_barrier("t:phase", me, strlen(me), reply, &len);
    if (rc == DMTCP_NS_OK) {
      reply[len] = 0;
      dmtcp_log("t reply: %s", reply);
    } else {
      dmtcp_log("t barrier failed: %d", rc);
    }
  }
  NEXT_DMTCP_PROCESS_EVENT(event, data);
}
`);
    const pkg = pluginPackage(dir, 't', lib, { coordinator: 'coordinator.mjs' });
    // One reply per process: how many took part, and whether its record was its own upid.
    writeFileSync(path.join(pkg, 'coordinator.mjs'), `export default {
  name: 't',
  policies: {
    't:phase': (records) => new Map(records.map((r) => [r.upid, Buffer.from('n=' + records.length + ' self=' + (r.payload.toString() === r.upid ? 'ok' : 'wrong') + ' prog=' + r.hello.prog)])),
  },
  calls: {
    't:echo': (c) => Buffer.from(c.payload.toString() + ' from ' + c.hello.prog + ' ' + /^[0-9a-f]{16}$/.test(c.upid)),
    't:boom': () => { throw new Error('boom'); },
  },
  processLeft: (upid, hello) => process.stdout.write('t left ' + hello.prog + ' ' + upid + '\\n'),
};
`, { mode: 0o644 });
    const listed = await listPlugins(['--with-plugin', pkg]);
    expect(listed[0]).toEqual({ name: 't', lib: path.join(pkg, 'build', 'libdmtcp_t.so'), source: 'user', coordinator: path.join(pkg, 'coordinator.mjs'), package: pkg });

    const exe = await compileFixture(coreFixture('counter.c'));
    const coord = await startCoordinator();
    const procs: Proc[] = [launch(exe, [], { ...coord, args: ['--with-plugin', pkg] }), launch(exe, [], { ...coord, args: ['--with-plugin', pkg] })];
    for (const p of procs) await p.waitForLine(/^count 3$/);
    for (const p of procs) {
      // The first call comes right after HELLO, before the module is loaded: it waits for the load.
      expect(p.stderr()).toContain('t call t:echo: rc=1 ping from counter true');
      expect(p.stderr()).toContain('t call t:missing: rc=0 ');
      expect(p.stderr()).toContain('t call t:boom: rc=-1 ');
      expect(p.stderr()).toContain('t small: rc=-2 len=22');
    }
    await waitForProcesses(coord.port, 2);
    const reply = await checkpoint(coord.port);
    expect(reply['ok']).toBe(true);
    for (const p of procs) {
      const line = await p.waitUntil(() => /^t (reply|barrier failed): .*$/m.exec(p.stderr())?.[0], 'waiting for the plugin\'s reply line');
      expect(line).toBe('t reply: n=2 self=ok prog=counter');
    }
    expect(coord.proc.lines().some((l) => l.includes('plugin t: coordinator module loaded (1 policy)'))).toBe(true);
    await procs[0]!.kill9();
    await coord.proc.waitForLine(/^t left counter [0-9a-f]{16}$/);
  });
});
