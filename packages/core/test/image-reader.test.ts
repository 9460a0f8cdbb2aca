import { mkdtempSync, rmSync, truncateSync, utimesSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HEADER_FIELDS, ImageError, checkImageFiles, fnv1a64, formatNs, readImage } from '../src/image/reader.ts';
import { buildImage, resealImage } from './synthetic-image.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'dmtcp-reader-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
function write(buf: Buffer | string): string {
  const p = path.join(dir, `img${n++}.dmtcp`);
  writeFileSync(p, buf);
  return p;
}

async function failure(p: string): Promise<ImageError> {
  try {
    await readImage(p);
  } catch (err) {
    expect(err).toBeInstanceOf(ImageError);
    const e = err as ImageError;
    expect(e.message.startsWith(p + ': ')).toBe(true);
    expect(e.message).not.toContain('\n');
    return e;
  }
  throw new Error(`${p} was accepted`);
}

function fnvReference(bytes: Uint8Array): bigint {
  let h = 0xcbf29ce484222325n;
  for (const b of bytes) h = ((h ^ BigInt(b)) * 0x100000001b3n) & 0xffffffffffffffffn;
  return h;
}

describe('fnv1a64', () => {
  it('matches the published test vectors', () => {
    expect(fnv1a64(Buffer.from(''))).toBe(0xcbf29ce484222325n);
    expect(fnv1a64(Buffer.from('a'))).toBe(0xaf63dc4c8601ec8cn);
    expect(fnv1a64(Buffer.from('foobar'))).toBe(0x85944171f73967e8n);
  });
  it('matches a BigInt reference on arbitrary bytes', () => {
    const bytes = Buffer.alloc(5000);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7919 + (i >> 3)) & 0xff;
    expect(fnv1a64(bytes)).toBe(fnvReference(bytes));
  });
});

describe('readImage', () => {
  it('reads header, tables and metadata of a good image', async () => {
    const p = write(buildImage({ meta: { future_field: { x: 1 } } }));
    const img = await readImage(p);
    expect(img.header.magic).toBe('DMTCPIMG');
    expect(img.header.version).toBe(1);
    expect(img.header.comp_id).toBe('1234abcd5678ef00');
    expect(img.header.upid).toBe('00000000deadbeef');
    expect(img.header.generation).toBe(3);
    expect(img.header.pid).toBe(4242);
    expect(img.header.ckpt_time_ns).toBe('1700000000123456789');
    expect(img.meta.prog).toBe('counter');
    expect(img.meta.argv).toEqual(['counter', '--steps', '10']);
    expect(img.meta.threads.map((t) => t.kind)).toEqual(['main', 'ckpt']);
    expect(img.meta['future_field']).toEqual({ x: 1 });
    expect(img.regions).toHaveLength(3);
    expect(img.regions[0]).toMatchObject({ start: '0x555555554000', path: '/usr/bin/counter', saved_bytes: 8192, flag_names: ['file'] });
    expect(img.regions[2]).toMatchObject({ path: '', saved_bytes: 3 * 4096, flag_names: ['growsdown'] });
  });

  it('reports a missing file', async () => {
    const e = await failure(path.join(dir, 'nope.dmtcp'));
    expect(e.kind).toBe('missing');
    expect(e.message).toMatch(/no such file/);
  });

  it('reports a directory', async () => {
    const d = path.join(dir, 'adir');
    mkdirSync(d);
    expect((await failure(d)).kind).toBe('unreadable');
  });

  it('reports a foreign file and an empty file', async () => {
    expect((await failure(write('#!/bin/sh\necho hello\n'))).kind).toBe('foreign');
    expect((await failure(write(Buffer.alloc(8192, 0x41)))).message).toMatch(/not a checkpoint image/);
    const empty = await failure(write(''));
    expect(empty.kind).toBe('foreign');
    expect(empty.message).toMatch(/empty/);
  });

  it('reports another version', async () => {
    const img = buildImage({ version: 7 });
    const e = await failure(write(img));
    expect(e.kind).toBe('version');
    expect(e.message).toMatch(/version 7/);
  });

  it('reports truncation with expected and actual sizes', async () => {
    const full = buildImage();
    for (const keep of [full.length - 1, full.length - 4096, 5000, 4096, 2000, 100]) {
      const p = write(full);
      truncateSync(p, keep);
      const e = await failure(p);
      expect(e.kind).toBe('truncated');
      if (keep >= 24) expect(e.message).toContain(`expected ${full.length} bytes, found ${keep}`);
    }
  });

  it('reports a corrupted header', async () => {
    const img = buildImage();
    img.writeUInt8(img.readUInt8(HEADER_FIELDS.generation.offset) ^ 0x01, HEADER_FIELDS.generation.offset);
    const e = await failure(write(img));
    expect(e.kind).toBe('corrupt');
    expect(e.message).toMatch(/header checksum mismatch/);
  });

  it('reports corrupted tables or metadata', async () => {
    const img = buildImage();
    const metaOff = Number(img.readBigUInt64LE(HEADER_FIELDS.meta_offset.offset));
    img.writeUInt8(img.readUInt8(metaOff + 3) ^ 0x20, metaOff + 3);
    const e = await failure(write(img));
    expect(e.kind).toBe('corrupt');
    expect(e.message).toMatch(/tables checksum mismatch/);
  });

  it('reports trailing garbage', async () => {
    const e = await failure(write(Buffer.concat([buildImage(), Buffer.alloc(10)])));
    expect(e.kind).toBe('corrupt');
    expect(e.message).toMatch(/size mismatch/);
  });

  it('reports metadata that is not JSON or has wrong types, even with good checksums', async () => {
    expect((await failure(write(buildImage({ metaText: '{"version":1,' })))).message).toMatch(/not valid JSON/);
    expect((await failure(write(buildImage({ metaText: '[1,2]' })))).message).toMatch(/metadata root is not an object/);
    expect((await failure(write(buildImage({ meta: { argv: 'x' } })))).message).toMatch(/argv is not an array/);
    expect((await failure(write(buildImage({ meta: { pid: 'abc' } })))).message).toMatch(/pid is not a number/);
  });

  it('fills missing metadata fields from the header', async () => {
    const img = await readImage(write(buildImage({ metaText: '{}' })));
    expect(img.meta.comp_id).toBe('1234abcd5678ef00');
    expect(img.meta.generation).toBe(3);
    expect(img.meta.threads).toEqual([]);
    expect(img.meta.files).toEqual([]);
  });

  it('reports tables that point outside the file', async () => {
    const img = buildImage();
    img.writeBigUInt64LE(1n << 40n, HEADER_FIELDS.meta_offset.offset);
    resealImage(img);
    const e = await failure(write(img));
    expect(e.kind).toBe('corrupt');
    expect(e.message).toMatch(/metadata .* outside/);
  });

  it('reports runs outside the data area', async () => {
    const img = buildImage();
    const runsOff = Number(img.readBigUInt64LE(HEADER_FIELDS.runs_offset.offset));
    img.writeBigUInt64LE(BigInt(img.length), runsOff + 16);
    resealImage(img);
    expect((await failure(write(img))).message).toMatch(/run 0 data/);
  });
});

describe('checkImageFiles', () => {
  it('names files that vanished or changed', async () => {
    const same = path.join(dir, 'libsame.so');
    const grown = path.join(dir, 'libgrown.so');
    const touched = path.join(dir, 'libtouched.so');
    const gone = path.join(dir, 'libgone.so');
    for (const f of [same, grown, touched]) writeFileSync(f, 'x'.repeat(123));
    utimesSync(touched, new Date(1_600_000_000_000), new Date(1_600_000_000_000));
    const { stat } = await import('node:fs/promises');
    const st = async (f: string) => stat(f, { bigint: true });
    const files = [];
    for (const f of [same, grown, touched]) {
      const s = await st(f);
      files.push({ path: f, size: Number(s.size), mtime_ns: s.mtimeNs.toString(), ino: Number(s.ino) });
    }
    files.push({ path: gone, size: 1, mtime_ns: '1', ino: 1 });
    writeFileSync(grown, 'x'.repeat(456));
    utimesSync(touched, new Date(1_700_000_000_000), new Date(1_700_000_000_000));

    const problems = await checkImageFiles({ files });
    expect(problems).toHaveLength(3);
    expect(problems[0]).toBe(`${grown} changed since the checkpoint (size 123 -> 456)`);
    expect(problems[1]).toMatch(new RegExp(`^${touched} changed since the checkpoint \\(modified 2020-09-13T.* -> 2023-11-14T`));
    expect(problems[2]).toBe(`${gone} no longer exists (it was mapped at the checkpoint)`);
  });
});

describe('formatNs', () => {
  it('keeps nanoseconds', () => {
    expect(formatNs('1700000000123456789')).toBe('2023-11-14T22:13:20.123456789Z');
  });
});
