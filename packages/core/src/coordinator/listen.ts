// The TCP side of the coordinator: a net.Server handing each connection to
// Coordinator.handle.
import net from 'node:net';
import { Coordinator, type CoordinatorOptions } from './coordinator.ts';
import type { BarrierPolicy } from './types.ts';

export interface StartCoordinatorOptions {
  /** Address to listen on; default 127.0.0.1. */
  host?: string;
  /** 0 picks a free port. */
  port: number;
  ckptDir?: string;
  exitOnLast?: boolean;
  /** Seconds between automatic checkpoints; 0 = off. */
  interval?: number;
  log?: (line: string) => void;
  /** argv prefix that runs `dmtcp` in restart scripts. */
  dmtcpCommand?: string[];
  policies?: Iterable<[string, BarrierPolicy]>;
}

export interface RunningCoordinator {
  port: number;
  host: string;
  coordinator: Coordinator;
  close(): Promise<void>;
  /** Resolves when the coordinator stops (quit, exit-on-last or close()). */
  closed: Promise<void>;
}

export class AddressInUseError extends Error {
  readonly code = 'EADDRINUSE';
  override name = 'AddressInUseError';
}

export async function startCoordinator(opts: StartCoordinatorOptions): Promise<RunningCoordinator> {
  const host = opts.host ?? '127.0.0.1';
  const copts: CoordinatorOptions = {
    host,
    port: opts.port,
    ckptDir: opts.ckptDir,
    exitOnLast: opts.exitOnLast,
    interval: opts.interval,
    log: opts.log,
    dmtcpCommand: opts.dmtcpCommand,
    policies: opts.policies,
  };
  const coordinator = new Coordinator(copts);
  const server = net.createServer({ noDelay: true }, (socket) => {
    socket.setNoDelay(true);
    coordinator.handle(socket);
  });

  await new Promise<void>((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      if (e.code === 'EADDRINUSE') {
        reject(new AddressInUseError(`port ${opts.port} on ${host} is already in use (another coordinator? choose one with --port, or 0 for any free port)`));
      } else if (e.code === 'EACCES') {
        reject(Object.assign(new Error(`not allowed to listen on ${host}:${opts.port}: ${e.message}`), { code: e.code }));
      } else {
        reject(e);
      }
    };
    const onListening = () => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen({ host, port: opts.port, exclusive: true });
  });

  const addr = server.address() as net.AddressInfo;
  coordinator.setAddress(host, addr.port);
  server.on('error', (e) => opts.log?.(`coordinator server: ${e.message}`));

  // Stop accepting the moment the coordinator starts to stop; closed waits
  // for both the server and the coordinator's own connections.
  const serverClosed = coordinator.stopRequested.then(
    () => new Promise<void>((resolve) => server.close(() => resolve())),
  );
  const closed = Promise.all([serverClosed, coordinator.stopped]).then(() => {});

  return {
    port: addr.port,
    host,
    coordinator,
    close: async () => {
      await coordinator.stop();
      await closed;
    },
    closed,
  };
}
