import { describe, expect, it } from 'vitest';
import { DMT_BARRIER, DMT_HELLO, DMT_USER_CMD, DMTCP_MSG_MAGIC } from '../src/generated/constants.ts';
import {
  encodeFrame,
  FrameDecoder,
  HEADER_LAYOUT,
  HEADER_SIZE,
  hex64,
  jsonPayload,
  MAX_PAYLOAD,
  parseHex64,
  parseJsonPayload,
  ProtocolError,
  type Frame,
} from '../src/protocol/codec.ts';

const sample: Frame = {
  type: DMT_BARRIER,
  extra: 0xdeadbeef,
  generation: 42n,
  upid: 0xffffffffffffffffn,
  compId: 0x0123456789abcdefn,
  name: 'ckpt:written',
  payload: Buffer.from('{"image":"/tmp/x.dmtcp","bytes":4096}'),
};

describe('encodeFrame', () => {
  it('writes a little-endian header followed by the payload', () => {
    const b = encodeFrame(sample);
    expect(b.length).toBe(HEADER_SIZE + sample.payload.length);
    expect(b.readUInt32LE(HEADER_LAYOUT.magic.offset)).toBe(DMTCP_MSG_MAGIC);
    expect(b.subarray(0, 4).toString('latin1')).toBe('DTMC');
    expect(b.readUInt16LE(HEADER_LAYOUT.version.offset)).toBe(1);
    expect(b.readUInt16LE(HEADER_LAYOUT.type.offset)).toBe(DMT_BARRIER);
    expect(b.readUInt32LE(HEADER_LAYOUT.payload_len.offset)).toBe(sample.payload.length);
    expect(b.readUInt32LE(HEADER_LAYOUT.extra.offset)).toBe(0xdeadbeef);
    expect(b.readBigUInt64LE(HEADER_LAYOUT.generation.offset)).toBe(42n);
    expect(b.readBigUInt64LE(HEADER_LAYOUT.upid.offset)).toBe(0xffffffffffffffffn);
    expect(b.readBigUInt64LE(HEADER_LAYOUT.comp_id.offset)).toBe(0x0123456789abcdefn);
    const name = b.subarray(HEADER_LAYOUT.name.offset, HEADER_LAYOUT.name.offset + 64);
    expect(name.subarray(0, 12).toString()).toBe('ckpt:written');
    expect([...name.subarray(12)].every((x) => x === 0)).toBe(true);
    expect(b.subarray(HEADER_SIZE).toString()).toBe(sample.payload.toString());
  });

  it('defaults every field but the type', () => {
    const b = encodeFrame({ type: DMT_HELLO });
    expect(b.length).toBe(HEADER_SIZE);
    const [f] = new FrameDecoder().push(b);
    expect(f).toEqual({ type: DMT_HELLO, extra: 0, generation: 0n, upid: 0n, compId: 0n, name: '', payload: Buffer.alloc(0) });
  });

  it('refuses what the C side could not read', () => {
    expect(() => encodeFrame({ type: 1, name: 'x'.repeat(64) })).toThrow(/at most 63/);
    expect(() => encodeFrame({ type: 1, name: 'x'.repeat(63) })).not.toThrow();
    expect(() => encodeFrame({ type: 1, upid: -1n })).toThrow(RangeError);
    expect(() => encodeFrame({ type: 1, generation: 1n << 64n })).toThrow(RangeError);
    expect(() => encodeFrame({ type: 1, extra: 2 ** 32 })).toThrow(RangeError);
    expect(() => encodeFrame({ type: 70000 })).toThrow(RangeError);
    expect(() => encodeFrame({ type: 1, payload: Buffer.alloc(MAX_PAYLOAD + 1) })).toThrow(/limit/);
  });
});

describe('FrameDecoder', () => {
  it('round-trips a frame', () => {
    expect(new FrameDecoder().push(encodeFrame(sample))).toEqual([sample]);
  });

  it('reassembles frames split at every byte boundary', () => {
    const frames: Frame[] = [sample, { ...sample, type: DMT_USER_CMD, name: '', payload: Buffer.alloc(0) }, { ...sample, name: 'n', payload: Buffer.from('z') }];
    const wire = Buffer.concat(frames.map(encodeFrame));
    for (const step of [1, 3, 7, 50, 103, 104, 105, wire.length]) {
      const d = new FrameDecoder();
      const got: Frame[] = [];
      for (let i = 0; i < wire.length; i += step) got.push(...d.push(wire.subarray(i, i + step)));
      expect(got).toEqual(frames);
      expect(d.pending).toBe(0);
    }
  });

  it('returns several frames from one chunk', () => {
    const wire = Buffer.concat([encodeFrame(sample), encodeFrame(sample), encodeFrame({ type: 2 })]);
    expect(new FrameDecoder().push(wire)).toHaveLength(3);
  });

  it('rejects another protocol as soon as four bytes are in', () => {
    const d = new FrameDecoder();
    expect(() => d.push(Buffer.from('HTTP/1.1 400 Bad Request\r\n'))).toThrow(ProtocolError);
    expect(() => new FrameDecoder().push(Buffer.from('SSH-'))).toThrow(/bad frame magic 0x2d485353.*SSH-/);
    // Fewer than four bytes cannot be judged yet.
    expect(new FrameDecoder().push(Buffer.from('SS'))).toEqual([]);
  });

  it('rejects a wrong version', () => {
    const b = encodeFrame(sample);
    b.writeUInt16LE(2, HEADER_LAYOUT.version.offset);
    expect(() => new FrameDecoder().push(b)).toThrow(/unsupported protocol version 2/);
  });

  it('rejects a payload over the limit before waiting for it', () => {
    const b = encodeFrame({ type: 1 });
    b.writeUInt32LE(MAX_PAYLOAD + 1, HEADER_LAYOUT.payload_len.offset);
    expect(() => new FrameDecoder().push(b)).toThrow(/exceeds/);
  });

  it('checks the magic of every frame, not only the first', () => {
    const good = encodeFrame(sample);
    const bad = encodeFrame(sample);
    bad.writeUInt32LE(0x12345678, 0);
    const d = new FrameDecoder();
    expect(d.push(good)).toHaveLength(1);
    expect(() => d.push(bad)).toThrow(/bad frame magic 0x12345678/);
  });

  it('reads a name that fills all 64 bytes without a NUL', () => {
    const b = encodeFrame({ type: 1 });
    b.fill(0x61, HEADER_LAYOUT.name.offset, HEADER_LAYOUT.name.offset + 64);
    expect(new FrameDecoder().push(b)[0]?.name).toBe('a'.repeat(64));
  });
});

describe('JSON payloads', () => {
  it('round-trip, with bigints as 16 hex digits', () => {
    const p = jsonPayload({ cmd: 'status', upid: 5n, list: [1, 'a'] });
    expect(p.toString()).toBe('{"cmd":"status","upid":"0000000000000005","list":[1,"a"]}');
    expect(parseJsonPayload({ type: 1, payload: p })).toEqual({ cmd: 'status', upid: '0000000000000005', list: [1, 'a'] });
  });

  it('treat an empty payload as an empty object', () => {
    expect(parseJsonPayload({ type: 1, payload: Buffer.alloc(0) })).toEqual({});
  });

  it('say which frame had bad JSON', () => {
    expect(() => parseJsonPayload({ type: 11, payload: Buffer.from('{nope') })).toThrow(/type 11 has a malformed JSON payload/);
  });

  it('parse hex ids', () => {
    expect(hex64(1n)).toBe('0000000000000001');
    expect(parseHex64('00000000000000ff')).toBe(255n);
    expect(parseHex64('0xff')).toBe(255n);
    expect(parseHex64('ffffffffffffffff')).toBe(0xffffffffffffffffn);
    expect(parseHex64('1ffffffffffffffff')).toBeNull();
    expect(parseHex64('zz')).toBeNull();
    expect(parseHex64(12)).toBeNull();
  });
});
