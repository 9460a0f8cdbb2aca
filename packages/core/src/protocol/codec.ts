// Frame encoding and incremental decoding for the wire protocol of
// include/dmtcp/protocol.h: a fixed little-endian header then the payload.
import {
  DMTCP_MSG_HDR_SIZE,
  DMTCP_MSG_MAGIC,
  DMTCP_MSG_MAX_PAYLOAD,
  DMTCP_MSG_NAME_LEN,
  DMTCP_PROTOCOL_VERSION,
} from '../generated/constants.ts';

export interface Frame {
  type: number;
  extra: number;
  generation: bigint;
  upid: bigint;
  compId: bigint;
  name: string;
  payload: Buffer;
}

/** Byte offset and size of each field of struct dmtcp_msg_hdr; a test checks
 *  them against offsetof/sizeof from a compiled C probe. */
export const HEADER_LAYOUT = {
  magic: { offset: 0, size: 4 },
  version: { offset: 4, size: 2 },
  type: { offset: 6, size: 2 },
  payload_len: { offset: 8, size: 4 },
  extra: { offset: 12, size: 4 },
  generation: { offset: 16, size: 8 },
  upid: { offset: 24, size: 8 },
  comp_id: { offset: 32, size: 8 },
  name: { offset: 40, size: DMTCP_MSG_NAME_LEN },
} as const;

export const HEADER_SIZE = DMTCP_MSG_HDR_SIZE;
export const MAX_PAYLOAD = DMTCP_MSG_MAX_PAYLOAD;

const U64_MAX = (1n << 64n) - 1n;
const L = HEADER_LAYOUT;

export class ProtocolError extends Error {
  override name = 'ProtocolError';
}

function checkU64(field: string, v: bigint): bigint {
  if (v < 0n || v > U64_MAX) throw new RangeError(`frame ${field} ${v} does not fit in 64 bits`);
  return v;
}

/** Encodes one frame. The name must leave room for a terminating NUL so that
 *  C readers can treat it as a string without strnlen. */
export function encodeFrame(f: Partial<Frame> & { type: number }): Buffer {
  const payload = f.payload ?? Buffer.alloc(0);
  if (payload.length > MAX_PAYLOAD) {
    throw new RangeError(`frame payload of ${payload.length} bytes exceeds the ${MAX_PAYLOAD}-byte limit`);
  }
  const name = Buffer.from(f.name ?? '', 'utf8');
  if (name.length >= DMTCP_MSG_NAME_LEN) {
    throw new RangeError(`frame name "${f.name}" is ${name.length} bytes; at most ${DMTCP_MSG_NAME_LEN - 1} fit`);
  }
  if (name.includes(0)) throw new RangeError('frame name must not contain NUL');
  const extra = f.extra ?? 0;
  if (!Number.isInteger(extra) || extra < 0 || extra > 0xffffffff) throw new RangeError(`frame extra ${extra} is not a u32`);
  if (!Number.isInteger(f.type) || f.type < 0 || f.type > 0xffff) throw new RangeError(`frame type ${f.type} is not a u16`);

  const buf = Buffer.alloc(HEADER_SIZE + payload.length);
  buf.writeUInt32LE(DMTCP_MSG_MAGIC, L.magic.offset);
  buf.writeUInt16LE(DMTCP_PROTOCOL_VERSION, L.version.offset);
  buf.writeUInt16LE(f.type, L.type.offset);
  buf.writeUInt32LE(payload.length, L.payload_len.offset);
  buf.writeUInt32LE(extra, L.extra.offset);
  buf.writeBigUInt64LE(checkU64('generation', f.generation ?? 0n), L.generation.offset);
  buf.writeBigUInt64LE(checkU64('upid', f.upid ?? 0n), L.upid.offset);
  buf.writeBigUInt64LE(checkU64('comp_id', f.compId ?? 0n), L.comp_id.offset);
  name.copy(buf, L.name.offset);
  payload.copy(buf, HEADER_SIZE);
  return buf;
}

function describeBytes(b: Buffer): string {
  const text = b.toString('latin1').replace(/[^\x20-\x7e]/g, '.');
  return `${JSON.stringify(text)} (hex ${b.toString('hex')})`;
}

/** Incremental decoder: feed it whatever the socket delivers and it returns
 *  the frames completed so far. Throws ProtocolError on anything that is not
 *  our protocol; after that the stream is unusable. */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private header: Omit<Frame, 'payload'> | null = null;
  private payloadLen = 0;
  private magicChecked = false;

  /** Bytes received but not yet part of a complete frame. */
  get pending(): number {
    return this.buffered;
  }

  push(chunk: Buffer): Frame[] {
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
    }
    const frames: Frame[] = [];
    for (;;) {
      if (this.header === null) {
        // Check the magic as soon as it is in, so that a peer speaking another
        // protocol (which may never send a full header) is detected at once.
        if (!this.magicChecked && this.buffered >= 4) {
          const magic = this.peek(4).readUInt32LE(0);
          if (magic !== DMTCP_MSG_MAGIC) {
            throw new ProtocolError(`bad frame magic 0x${magic.toString(16).padStart(8, '0')}, peer sent ${describeBytes(this.peek(Math.min(this.buffered, 16)))}`);
          }
          this.magicChecked = true;
        }
        if (this.buffered < HEADER_SIZE) break;
        const h = this.take(HEADER_SIZE);
        const version = h.readUInt16LE(L.version.offset);
        if (version !== DMTCP_PROTOCOL_VERSION) {
          throw new ProtocolError(`unsupported protocol version ${version} (this side speaks ${DMTCP_PROTOCOL_VERSION})`);
        }
        const len = h.readUInt32LE(L.payload_len.offset);
        if (len > MAX_PAYLOAD) throw new ProtocolError(`frame payload of ${len} bytes exceeds the ${MAX_PAYLOAD}-byte limit`);
        const rawName = h.subarray(L.name.offset, L.name.offset + L.name.size);
        const nul = rawName.indexOf(0);
        this.header = {
          type: h.readUInt16LE(L.type.offset),
          extra: h.readUInt32LE(L.extra.offset),
          generation: h.readBigUInt64LE(L.generation.offset),
          upid: h.readBigUInt64LE(L.upid.offset),
          compId: h.readBigUInt64LE(L.comp_id.offset),
          name: rawName.subarray(0, nul < 0 ? rawName.length : nul).toString('utf8'),
        };
        this.payloadLen = len;
      }
      if (this.buffered < this.payloadLen) break;
      const payload = this.payloadLen === 0 ? Buffer.alloc(0) : this.take(this.payloadLen);
      frames.push({ ...this.header, payload });
      this.header = null;
      this.magicChecked = false;
    }
    return frames;
  }

  private peek(n: number): Buffer {
    const first = this.chunks[0];
    if (first && first.length >= n) return first.subarray(0, n);
    return Buffer.concat(this.chunks).subarray(0, n);
  }

  /** Removes n bytes from the front; copies only when they span chunks. */
  private take(n: number): Buffer {
    const first = this.chunks[0];
    let out: Buffer;
    if (first && first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      out = Buffer.allocUnsafe(n);
      let off = 0;
      while (off < n) {
        const c = this.chunks[0]!;
        const k = Math.min(c.length, n - off);
        c.copy(out, off, 0, k);
        off += k;
        if (k === c.length) this.chunks.shift();
        else this.chunks[0] = c.subarray(k);
      }
    }
    this.buffered -= n;
    return out;
  }
}

/** JSON for the wire. Bigints are written as 16-hex-digit strings, the way
 *  upids and computation ids travel. */
export function jsonPayload(obj: unknown): Buffer {
  return Buffer.from(JSON.stringify(obj, (_k, v: unknown) => (typeof v === 'bigint' ? hex64(v) : v)), 'utf8');
}

/** Parses a frame's JSON payload; an empty payload is an empty object. */
export function parseJsonPayload(frame: Pick<Frame, 'payload' | 'type'>): unknown {
  if (frame.payload.length === 0) return {};
  try {
    return JSON.parse(frame.payload.toString('utf8')) as unknown;
  } catch (e) {
    throw new ProtocolError(`frame of type ${frame.type} has a malformed JSON payload: ${(e as Error).message}`);
  }
}

export function hex64(v: bigint): string {
  return checkU64('value', v).toString(16).padStart(16, '0');
}

/** Parses an id sent as hex text (upids, computation ids); null if malformed. */
export function parseHex64(s: unknown): bigint | null {
  if (typeof s !== 'string' || !/^(0x)?[0-9a-fA-F]{1,16}$/.test(s)) return null;
  return BigInt(s.startsWith('0x') ? s : `0x${s}`);
}
