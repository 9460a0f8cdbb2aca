// Two connected in-memory Duplex streams, so the coordinator can be driven
// without a port (Node 20 has no stream.duplexPair).
import { Duplex } from 'node:stream';

class MemoryEnd extends Duplex {
  peer: MemoryEnd | null = null;

  override _read(): void {}

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    const peer = this.peer;
    if (!peer || peer.destroyed) {
      cb(new Error('peer closed'));
      return;
    }
    // Copy: the writer may reuse its buffer once the callback runs. Deliver
    // asynchronously, as a socket would, so that a reply never runs inside
    // the sender's own call stack.
    const copy = Buffer.from(chunk);
    queueMicrotask(() => {
      if (!peer.destroyed) peer.push(copy);
    });
    cb();
  }

  override _final(cb: (err?: Error | null) => void): void {
    const peer = this.peer;
    queueMicrotask(() => {
      if (peer && !peer.destroyed) peer.push(null);
    });
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    const peer = this.peer;
    this.peer = null;
    if (peer && !peer.destroyed) {
      peer.peer = null;
      // A vanished peer looks like EOF followed by close, as with TCP; queued
      // behind the data already in flight.
      queueMicrotask(() => {
        if (peer.destroyed) return;
        // Let buffered data reach the reader before the close.
        if (peer.readableFlowing === true && !peer.readableEnded) peer.once('end', () => peer.destroy());
        else queueMicrotask(() => peer.destroy());
        peer.push(null);
      });
    }
    cb(err);
  }
}

export function memoryPair(): [Duplex, Duplex] {
  const a = new MemoryEnd();
  const b = new MemoryEnd();
  a.peer = b;
  b.peer = a;
  return [a, b];
}
