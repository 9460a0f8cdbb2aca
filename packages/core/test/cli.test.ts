// The built CLI (dist/cli.js) on bad input: one line on stderr, the right exit
// status, nothing started. None of this needs the native runtime.
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HEADER_FIELDS } from '../src/image/reader.ts';
import { paths } from '../src/paths.ts';
import { buildImage } from './synthetic-image.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'dmtcp-cli-'));
const cleanups: Array<() => void> = [];
afterAll(() => {
  for (const c of cleanups.reverse()) c();
  rmSync(dir, { recursive: true, force: true });
});

interface Result {
  status: number | null;
  stdout: string;
  stderr: string;
}

// Asynchronous: the servers some tests talk to live in this process.
function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [paths.cli, ...args], {
      cwd: dir,
      // the core alone: installed plugin packages may not be built yet
      env: { PATH: process.env['PATH'], HOME: process.env['HOME'], DMTCP_BUILTIN_PLUGINS: '0', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

/** Exactly one line on stderr, starting with the prefix, with no stack trace. */
function expectOneLine(r: Result, status: number, line: string | RegExp): void {
  expect(r.stderr.endsWith('\n')).toBe(true);
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  if (typeof line === 'string') expect(lines[0]).toBe(line);
  else expect(lines[0]).toMatch(line);
  expect(r.status).toBe(status);
}

/** A port that nothing listens on (bound and released by us). */
async function unusedPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as net.AddressInfo;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

/** A TCP server that is not a coordinator: it answers with garbage. */
async function foreignServer(): Promise<number> {
  const srv = net.createServer((s) => {
    s.on('error', () => undefined);
    s.end('HTTP/1.0 400 Bad Request\r\n\r\n'.repeat(8));
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => srv.close());
  return (srv.address() as net.AddressInfo).port;
}

function image(name: string, buf: Buffer): string {
  const p = path.join(dir, name);
  writeFileSync(p, buf);
  return p;
}

beforeAll(() => {
  if (!existsSync(paths.cli)) throw new Error(`${paths.cli} is missing: build the core first (node scripts/build.mjs)`);
});

describe('dmtcp', () => {
  it('prints its version and help', async () => {
    const pkg = JSON.parse(readFileSync(path.join(paths.packageRoot, 'package.json'), 'utf8')) as { version: string };
    const v = await cli(['--version']);
    expect(v.status).toBe(0);
    expect(v.stdout).toBe(`dmtcp ${pkg.version}\n`);
    const h = await cli(['help']);
    expect(h.status).toBe(0);
    for (const c of ['launch', 'command', 'restart', 'coordinator', 'image']) expect(h.stdout).toContain(`  ${c}`);
    const lh = await cli(['help', 'launch']);
    expect(lh.status).toBe(0);
    expect(lh.stdout).toContain('--with-plugin');
    expect((await cli(['launch', '--help'])).stdout).toBe(lh.stdout);
  });

  it('rejects an unknown command and a missing one', async () => {
    expectOneLine(await cli(['frobnicate']), 2, 'dmtcp: unknown command "frobnicate" (try dmtcp help)');
    expectOneLine(await cli([]), 2, 'dmtcp: missing command (try dmtcp help)');
  });
});

describe('dmtcp command', () => {
  it('reports a missing coordinator', async () => {
    const port = await unusedPort();
    expectOneLine(await cli(['command', '--status', '--coord-port', String(port)]), 1, `dmtcp command: no coordinator running at localhost:${port}`);
    expectOneLine(await cli(['command', '-c'], { DMTCP_COORD_PORT: String(port) }), 1, `dmtcp command: no coordinator running at localhost:${port}`);
    expectOneLine(
      await cli(['command', '--json', '-s', '--coord-host', '127.0.0.1', '--coord-port', String(port)]),
      1,
      `dmtcp command: no coordinator running at 127.0.0.1:${port}`,
    );
  });

  it('reports something that is not a coordinator', async () => {
    const port = await foreignServer();
    expectOneLine(await cli(['command', '--status', '--coord-port', String(port)]), 1, `dmtcp command: something else is listening on localhost:${port}`);
  });

  it('rejects bad command lines with status 2', async () => {
    expectOneLine(await cli(['command']), 2, /^dmtcp command: missing action/);
    expectOneLine(await cli(['command', '-c', '-s']), 2, /^dmtcp command: give one action at a time/);
    expectOneLine(await cli(['command', '-s', '--coord-port', 'abc']), 2, /^dmtcp command: invalid port "abc"/);
    expectOneLine(await cli(['command', '-s', '--bogus']), 2, /^dmtcp command: unknown option --bogus/);
    expectOneLine(await cli(['command', '-i', 'soon']), 2, /^dmtcp command: invalid interval "soon"/);
  });
});

describe('dmtcp launch', () => {
  it('reports a missing program with status 127', async () => {
    expectOneLine(await cli(['launch', '/nonexistent']), 127, 'dmtcp launch: /nonexistent: no such program');
    expectOneLine(await cli(['launch', 'no-such-program-dmtcp-test', '--flag']), 127, 'dmtcp launch: no-such-program-dmtcp-test: no such program');
  });

  it('reports a program that is not executable with status 126', async () => {
    const f = path.join(dir, 'notexec.sh');
    writeFileSync(f, '#!/bin/sh\n');
    chmodSync(f, 0o644);
    expectOneLine(await cli(['launch', './notexec.sh']), 126, /^dmtcp launch: \.\/notexec\.sh: permission denied/);
  });

  it('reports a directory given as the program', async () => {
    expectOneLine(await cli(['launch', dir]), 126, `dmtcp launch: ${dir}: is a directory`);
  });

  it('reports a missing plugin before starting anything', async () => {
    const port = await unusedPort();
    const r = await cli(['launch', '--coord-port', String(port), '--with-plugin', '/nonexistent/libx.so', 'true']);
    expectOneLine(r, 1, 'dmtcp launch: plugin /nonexistent/libx.so: no such file');
  });

  it('rejects bad command lines with status 2', async () => {
    expectOneLine(await cli(['launch']), 2, /^dmtcp launch: missing PROG/);
    expectOneLine(await cli(['launch', '--join-coordinator', '--new-coordinator', 'true']), 2, /exclude each other/);
    expectOneLine(await cli(['launch', '--interval', 'x', 'true']), 2, /^dmtcp launch: invalid interval/);
  });

  it.skipIf(!existsSync(paths.libdmtcp) || !existsSync(paths.addon))(
    'with --join-coordinator, reports that no coordinator runs',
    async () => {
      const port = await unusedPort();
      expectOneLine(
        await cli(['launch', '--join-coordinator', '--coord-port', String(port), 'true']),
        1,
        `dmtcp launch: no coordinator running at localhost:${port}`,
      );
    },
  );
});

describe('dmtcp image inspect', () => {
  it('reports a missing image', async () => {
    expectOneLine(await cli(['image', 'inspect', '/nonexistent.dmtcp']), 1, 'dmtcp image: /nonexistent.dmtcp: no such file');
  });

  it('reports a truncated image', async () => {
    const full = buildImage();
    const p = image('trunc.dmtcp', full);
    truncateSync(p, full.length - 100);
    expectOneLine(
      await cli(['image', 'inspect', p]),
      1,
      `dmtcp image: ${p}: truncated image (expected ${full.length} bytes, found ${full.length - 100})`,
    );
  });

  it('reports a corrupt image', async () => {
    const buf = buildImage();
    buf.writeUInt8(buf.readUInt8(HEADER_FIELDS.pid.offset) ^ 0xff, HEADER_FIELDS.pid.offset);
    const p = image('corrupt.dmtcp', buf);
    expectOneLine(await cli(['image', 'inspect', p]), 1, `dmtcp image: ${p}: corrupt image (header checksum mismatch)`);
  });

  it('reports a file that is not an image', async () => {
    const p = image('foreign.txt', Buffer.from('hello world\n'));
    expectOneLine(await cli(['image', 'inspect', p]), 1, `dmtcp image: ${p}: not a checkpoint image (bad magic)`);
  });

  it('rejects bad command lines with status 2', async () => {
    expectOneLine(await cli(['image']), 2, /^dmtcp image: missing subcommand/);
    expectOneLine(await cli(['image', 'inspect']), 2, /^dmtcp image: missing IMAGE/);
    expectOneLine(await cli(['image', 'look', 'x']), 2, /^dmtcp image: unknown subcommand "look"/);
  });

  it('describes a good image', async () => {
    const p = image('good.dmtcp', buildImage());
    const r = await cli(['image', 'inspect', 'good.dmtcp']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('counter --steps 10');
    expect(r.stdout).toMatch(/Computation:\s+1234abcd5678ef00, generation 3, 1 process/);
    expect(r.stdout).toMatch(/Threads:\s+4242 \(main\), 4243 \(ckpt\)/);
    expect(r.stdout).toMatch(/^Timers:\s+none armed$/m);
    expect(r.stdout).toMatch(/^Pending:\s+none$/m);
    expect(r.stdout).toMatch(/^555555554000-555555556000\s+r-xp\s+8\.0 KiB\s+\/usr\/bin\/counter \[file\]$/m);
    expect(r.stdout).toMatch(/^Totals: 3 regions, 24 KiB saved data \(24576 bytes\)/m);

    const j = await cli(['image', 'inspect', p, '--json']);
    expect(j.status).toBe(0);
    expect(j.stdout.trimEnd().split('\n')).toHaveLength(1);
    const obj = JSON.parse(j.stdout) as Record<string, unknown> & { meta: { prog: string } };
    expect(obj['path']).toBe(p);
    expect(obj['comp_id']).toBe('1234abcd5678ef00');
    expect(obj['generation']).toBe(3);
    expect(obj.meta.prog).toBe('counter');
  });

  it('shows the timers and pending signals an image recorded', async () => {
    const meta = {
      itimers: { real: { value_us: 500000, interval_us: 100000 } },
      pending_signals: [{ sig: 34, tid: 0, code: -1, pid: 7, uid: 0, value: 3 }],
    };
    const p = image('timers.dmtcp', buildImage({ meta }));
    const r = await cli(['image', 'inspect', p]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^Timers:\s+real: 0\.5 s left, every 0\.1 s$/m);
    expect(r.stdout).toMatch(/^Pending:\s+process: 34 \(sigqueue 3\)$/m);
    const bad = image('badsig.dmtcp', buildImage({ meta: { pending_signals: [{ sig: 'x' }] } }));
    expectOneLine(await cli(['image', 'inspect', bad]), 1, `dmtcp image: ${bad}: corrupt image (metadata field pending_signals[0].sig is not a number)`);
  });
});

describe('dmtcp restart', () => {
  it('checks every image before starting anything', async () => {
    const port = await unusedPort();
    const good = image('r-good.dmtcp', buildImage());
    const bad = buildImage({ upid: 2n });
    const p = image('r-trunc.dmtcp', bad.subarray(0, 5000));
    expectOneLine(
      await cli(['restart', '--coord-port', String(port), good, p]),
      1,
      `dmtcp restart: ${p}: truncated image (expected ${bad.length} bytes, found 5000)`,
    );
    expectOneLine(await cli(['restart', '--coord-port', String(port), '/nonexistent.dmtcp']), 1, 'dmtcp restart: /nonexistent.dmtcp: no such file');
    // nothing was started on the port
    expectOneLine(await cli(['command', '-s', '--coord-port', String(port)]), 1, /no coordinator running/);
  });

  it('refuses images of different computations or checkpoints', async () => {
    const a = image('ra.dmtcp', buildImage({ numPeers: 2, upid: 1n }));
    const b = image('rb.dmtcp', buildImage({ numPeers: 2, upid: 2n, compId: 0xfeedn }));
    const c = image('rc.dmtcp', buildImage({ numPeers: 2, upid: 3n, generation: 4 }));
    expectOneLine(await cli(['restart', a, b]), 1, /^dmtcp restart: images belong to different computations/);
    expectOneLine(await cli(['restart', a, c]), 1, /^dmtcp restart: images come from different checkpoints/);
    expectOneLine(await cli(['restart', a]), 1, 'dmtcp restart: the checkpoint has 2 processes but 1 image was given');
  });

  it('names each mapped file that vanished or changed', async () => {
    const lib = path.join(dir, 'libgone.so');
    const changed = path.join(dir, 'libchanged.so');
    writeFileSync(changed, 'abc');
    const p = image(
      'rfiles.dmtcp',
      buildImage({
        meta: {
          files: [
            { path: lib, size: 10, mtime_ns: '1', ino: 5 },
            { path: changed, size: 10, mtime_ns: '1', ino: 6 },
          ],
        },
      }),
    );
    const r = await cli(['restart', p]);
    expect(r.status).toBe(1);
    expect(r.stderr.trimEnd().split('\n')).toEqual([
      `dmtcp restart: ${lib} no longer exists (it was mapped at the checkpoint)`,
      `dmtcp restart: ${changed} changed since the checkpoint (size 10 -> 3)`,
    ]);
  });

  it('rejects a missing image list with status 2', async () => {
    expectOneLine(await cli(['restart']), 2, /^dmtcp restart: missing IMAGE/);
  });
});

describe('dmtcp coordinator', () => {
  it('reports a port in use', async () => {
    const port = await foreignServer();
    expectOneLine(await cli(['coordinator', '--coord-port', String(port)]), 1, `dmtcp coordinator: port ${port} is already in use`);
    expectOneLine(await cli(['coordinator', '--daemon', '--coord-port', String(port)]), 1, `dmtcp coordinator: port ${port} is already in use`);
  });

  it('runs as a daemon that answers commands and quits', async () => {
    const ckpt = path.join(dir, 'ckpt');
    const portFile = path.join(dir, 'port');
    const d = await cli(['coordinator', '--daemon', '--coord-port', '0', '--ckptdir', ckpt, '--port-file', portFile]);
    expect(d.stderr).toBe('');
    expect(d.status).toBe(0);
    const port = Number(d.stdout.trim());
    expect(port).toBeGreaterThan(0);
    expect(readFileSync(portFile, 'utf8').trim()).toBe(String(port));
    const log = readFileSync(path.join(ckpt, 'dmtcp-coordinator.log'), 'utf8');
    const pid = Number(/\(pid (\d+)\)/.exec(log)?.[1]);
    cleanups.push(() => {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    });

    const s = await cli(['command', '--status', '--json', '--coord-port', String(port)]);
    expect(s.status).toBe(0);
    const reply = JSON.parse(s.stdout) as { ok: boolean; num_processes: number };
    expect(reply.ok).toBe(true);
    expect(reply.num_processes).toBe(0);

    const h = await cli(['command', '--status', '--coord-port', String(port)]);
    expect(h.status).toBe(0);
    expect(h.stdout).toMatch(/^Processes: 0$/m);
    expect(h.stdout).toMatch(/^Running: no$/m);

    expect((await cli(['command', '--quit', '--coord-port', String(port)])).status).toBe(0);
    expectOneLine(await cli(['command', '-s', '--coord-port', String(port)]), 1, `dmtcp command: no coordinator running at localhost:${port}`);
  });
});
