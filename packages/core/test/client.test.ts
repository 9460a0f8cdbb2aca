// The TCP listener and the command client over loopback.
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startCoordinator, type RunningCoordinator } from '../src/coordinator/index.ts';
import { DMT_ACCEPT, DMT_HELLO, DMT_KILL, DMTCP_HELLO_LAUNCH } from '../src/generated/constants.ts';
import { encodeFrame, FrameDecoder, jsonPayload, type Frame } from '../src/protocol/codec.ts';
import {
  CoordinatorTimeoutError,
  CoordinatorUnreachableError,
  NotACoordinatorError,
  probeCoordinator,
  sendUserCommand,
} from '../src/protocol/client.ts';

const cleanup: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function coordinator(opts: Partial<Parameters<typeof startCoordinator>[0]> = {}): Promise<RunningCoordinator> {
  const c = await startCoordinator({ port: 0, ...opts });
  cleanup.push(() => c.close());
  return c;
}

/** A server that is not a coordinator. */
async function otherServer(onConn: (s: net.Socket) => void): Promise<number> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
    onConn(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanup.push(() => new Promise<void>((r) => {
    // A silent server never reads the client's EOF, so its sockets stay open.
    for (const s of sockets) s.destroy();
    server.close(() => r());
  }));
  return (server.address() as net.AddressInfo).port;
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** A process of the computation, over TCP. */
async function worker(port: number, prog: string): Promise<{ socket: net.Socket; accept: Frame; frames: Frame[] }> {
  const socket = net.connect({ host: '127.0.0.1', port });
  cleanup.push(() => {
    socket.destroy();
  });
  const decoder = new FrameDecoder();
  const frames: Frame[] = [];
  const accept = await new Promise<Frame>((resolve, reject) => {
    socket.on('data', (c: Buffer) => {
      for (const f of decoder.push(c)) {
        frames.push(f);
        if (f.type === DMT_ACCEPT) resolve(f);
        if (f.type === DMT_KILL) socket.destroy();
      }
    });
    socket.on('error', reject);
    socket.write(encodeFrame({ type: DMT_HELLO, extra: DMTCP_HELLO_LAUNCH, payload: jsonPayload({ pid: process.pid, prog }) }));
  });
  return { socket, accept, frames };
}

describe('startCoordinator', () => {
  it('listens on a free port and answers status', async () => {
    const c = await coordinator();
    expect(c.port).toBeGreaterThan(0);
    const s = await sendUserCommand('127.0.0.1', c.port, { cmd: 'status' }, 2000);
    expect(s).toMatchObject({ ok: true, num_processes: 0, running: false, comp_id: null, coordinator: { host: '127.0.0.1', port: c.port } });
    expect(await probeCoordinator('127.0.0.1', c.port)).toBe('coordinator');
  });

  it('refuses a port in use with EADDRINUSE and a clear message', async () => {
    const c = await coordinator();
    const err = await startCoordinator({ port: c.port }).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as NodeJS.ErrnoException).code).toBe('EADDRINUSE');
    expect((err as Error).message).toMatch(new RegExp(`port ${c.port} on 127.0.0.1 is already in use`));
  });

  it('quits on command: kills the processes, replies, and resolves closed', async () => {
    const logs: string[] = [];
    const c = await coordinator({ log: (l) => logs.push(l) });
    const w = await worker(c.port, 'sleeper');
    expect(w.accept.upid).toBe(1n);
    expect(await sendUserCommand('127.0.0.1', c.port, { cmd: 'quit' }, 5000)).toEqual({ ok: true, killed: 1 });
    await c.closed;
    expect(w.frames.some((f) => f.type === DMT_KILL)).toBe(true);
    expect(await probeCoordinator('127.0.0.1', c.port)).toBe('none');
    expect(logs.some((l) => l.startsWith('join upid=0000000000000001'))).toBe(true);
  });

  it('stops by itself after the last process with exitOnLast', async () => {
    const c = await coordinator({ exitOnLast: true });
    const w = await worker(c.port, 'short');
    w.socket.destroy();
    await c.closed;
  });

  it('stops on close() even with connections open', async () => {
    const c = await coordinator();
    await worker(c.port, 'p');
    await c.close();
    await c.closed;
  });
});

describe('sendUserCommand', () => {
  it('reports a port with nothing behind it', async () => {
    const port = await freePort();
    const err = await sendUserCommand('127.0.0.1', port, { cmd: 'status' }, 2000).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CoordinatorUnreachableError);
    expect((err as Error).message).toMatch(new RegExp(`^no coordinator running at 127.0.0.1:${port}`));
    expect(await probeCoordinator('127.0.0.1', port)).toBe('none');
  });

  it('recognises a service that answers in another protocol', async () => {
    const port = await otherServer((s) => s.end('SSH-2.0-OpenSSH_9.2\r\n'));
    const err = await sendUserCommand('127.0.0.1', port, { cmd: 'status' }, 2000).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotACoordinatorError);
    expect((err as Error).message).toMatch(new RegExp(`^something else is listening on 127.0.0.1:${port}`));
    expect(await probeCoordinator('127.0.0.1', port)).toBe('other');
  });

  it('recognises a service that hangs up without a word', async () => {
    const port = await otherServer((s) => s.on('data', () => s.destroy()));
    const err = await sendUserCommand('127.0.0.1', port, { cmd: 'status' }, 2000).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotACoordinatorError);
  });

  it('gives up on a silent service after the timeout', async () => {
    const port = await otherServer(() => {});
    const err = await sendUserCommand('127.0.0.1', port, { cmd: 'status' }, 100).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CoordinatorTimeoutError);
    expect(await probeCoordinator('127.0.0.1', port, 100)).toBe('other');
  });

  it('connects to "localhost"', async () => {
    const c = await coordinator();
    expect(await probeCoordinator('localhost', c.port)).toBe('coordinator');
  });
});
