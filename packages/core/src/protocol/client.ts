// The user side of the protocol: one command, one reply, over a fresh
// connection (what `dmtcp command` and the launcher use).
import net from 'node:net';
import { DMT_USER_CMD, DMT_USER_REPLY } from '../generated/constants.ts';
import type { ReplyFor, UserCommand } from '../types.ts';
import { encodeFrame, FrameDecoder, jsonPayload, parseJsonPayload } from './codec.ts';

export type { ReplyFor, UserCommand, UserReply } from '../types.ts';

function formatWhere(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Nothing accepts connections there. */
export class CoordinatorUnreachableError extends Error {
  override name = 'CoordinatorUnreachableError';
  constructor(readonly host: string, readonly port: number, readonly code: string | undefined, detail?: string) {
    super(`no coordinator running at ${formatWhere(host, port)}${detail ? ` (${detail})` : ''}`);
  }
}

/** Something accepted the connection but does not speak our protocol. */
export class NotACoordinatorError extends Error {
  override name = 'NotACoordinatorError';
  constructor(readonly host: string, readonly port: number, readonly detail: string) {
    super(`something else is listening on ${formatWhere(host, port)} (${detail})`);
  }
}

/** Connected, but no reply came in time. */
export class CoordinatorTimeoutError extends Error {
  override name = 'CoordinatorTimeoutError';
  constructor(readonly host: string, readonly port: number, readonly timeoutMs: number) {
    super(`no reply from ${formatWhere(host, port)} within ${timeoutMs} ms`);
  }
}

/**
 * Sends one command and waits for its reply. Without timeoutMs it waits as
 * long as the command takes (a checkpoint of a large computation may take a
 * while).
 */
export function sendUserCommand<C extends UserCommand>(host: string, port: number, cmd: C, timeoutMs?: number): Promise<ReplyFor<C>> {
  return new Promise((resolve, reject) => {
    const decoder = new FrameDecoder();
    let connected = false;
    let settled = false;
    const socket = net.connect({ host, port, noDelay: true });
    const timer = timeoutMs !== undefined && timeoutMs > 0
      ? setTimeout(() => {
        fail(connected ? new CoordinatorTimeoutError(host, port, timeoutMs) : new CoordinatorUnreachableError(host, port, 'ETIMEDOUT', `no answer to connect within ${timeoutMs} ms`));
      }, timeoutMs)
      : null;

    function settle(): boolean {
      if (settled) return false;
      settled = true;
      if (timer) clearTimeout(timer);
      socket.destroy();
      return true;
    }
    function fail(e: Error): void {
      if (settle()) reject(e);
    }

    socket.on('connect', () => {
      connected = true;
      socket.setNoDelay(true);
      socket.write(encodeFrame({ type: DMT_USER_CMD, payload: jsonPayload(cmd) }));
    });
    socket.on('data', (chunk: Buffer) => {
      let frames;
      try {
        frames = decoder.push(chunk);
      } catch (e) {
        fail(new NotACoordinatorError(host, port, (e as Error).message));
        return;
      }
      for (const f of frames) {
        if (f.type !== DMT_USER_REPLY) continue;
        let reply: unknown;
        try {
          reply = parseJsonPayload(f);
        } catch (e) {
          fail(new NotACoordinatorError(host, port, (e as Error).message));
          return;
        }
        if (typeof reply !== 'object' || reply === null || typeof (reply as { ok?: unknown }).ok !== 'boolean') {
          fail(new NotACoordinatorError(host, port, 'its reply has no "ok" field'));
          return;
        }
        if (settle()) resolve(reply as ReplyFor<C>);
        return;
      }
    });
    socket.on('error', (e: NodeJS.ErrnoException) => {
      if (!connected) fail(new CoordinatorUnreachableError(host, port, e.code, e.code ?? e.message));
      else fail(new NotACoordinatorError(host, port, `connection failed: ${e.code ?? e.message}`));
    });
    socket.on('close', () => {
      fail(connected
        ? new NotACoordinatorError(host, port, 'it closed the connection without a reply')
        : new CoordinatorUnreachableError(host, port, undefined));
    });
  });
}

export type ProbeResult = 'coordinator' | 'none' | 'other';

/** Tells a running coordinator from an empty port and from another service. */
export async function probeCoordinator(host: string, port: number, timeoutMs = 2000): Promise<ProbeResult> {
  try {
    await sendUserCommand(host, port, { cmd: 'status' }, timeoutMs);
    return 'coordinator';
  } catch (e) {
    if (e instanceof CoordinatorUnreachableError) return 'none';
    return 'other';
  }
}

