// The constants generated from native/pid_wire.h are current, and records and
// tables survive a round trip; malformed records are refused with a reason.
import { fileURLToPath } from 'node:url';
import { runGenerator } from '@dmtcp/core/gen-constants';
import { describe, expect, test } from 'vitest';
import { decodeClaim, decodeRecord, decodeTable, encodeClaim, encodeRecord, encodeTable, WireError } from '../src/wire.ts';
import * as wire from '../src/wire.ts';

const pkg = fileURLToPath(new URL('..', import.meta.url));

describe('native/pid_wire.h and src/generated/wire.ts', () => {
  test('the generated constants are up to date with the header', () => {
    const errors: string[] = [];
    const status = runGenerator(['native/pid_wire.h', '-o', 'src/generated/wire.ts', '--check'], { cwd: pkg, err: (l) => errors.push(l) });
    expect(errors).toEqual([]);
    expect(status).toBe(0);
  });

  test('src/wire.ts passes them on', () => {
    expect(wire.PID_BARRIER_RESTART).toBe('pid:restart');
    expect(wire.PID_CALL_CLAIM).toBe('pid:claim');
    expect(wire.PID_RECORD_MAGIC).toBe(0x52444950);
    expect(wire.PID_REPLY_MAX).toBe(8191);
  });
});

describe('records', () => {
  test('round trip', () => {
    const r = { vpid: 100, real: 4242, threads: [{ vtid: 101, real: 4243 }, { vtid: 102, real: 0 }] };
    const buf = encodeRecord(r);
    expect(buf.length).toBe(20 + 2 * 8);
    expect(buf.subarray(0, 4).toString('latin1')).toBe('PIDR');
    expect(decodeRecord(buf)).toEqual(r);
  });

  test.each([
    ['empty', Buffer.alloc(0), /empty record/],
    ['short', Buffer.alloc(7), /shorter than its 20-byte header/],
    ['magic', Buffer.alloc(20), /bad record magic/],
  ])('refuses a %s record', (_what, buf, re) => {
    expect(() => decodeRecord(buf)).toThrow(re);
  });

  test('refuses a wrong version, a wrong length and bad ids', () => {
    const good = encodeRecord({ vpid: 7, real: 8, threads: [{ vtid: 9, real: 10 }] });
    const v2 = Buffer.from(good);
    v2.writeUInt16LE(2, 4);
    expect(() => decodeRecord(v2)).toThrow(/version 2, expected 1/);
    expect(() => decodeRecord(good.subarray(0, good.length - 1))).toThrow(/says 1 threads \(28 bytes\) but has 27/);
    expect(() => decodeRecord(encodeRecord({ vpid: 0, real: 8, threads: [] }))).toThrow(WireError);
    expect(() => decodeRecord(encodeRecord({ vpid: 7, real: 8, threads: [{ vtid: -3, real: 1 }] }))).toThrow(/thread 0/);
  });
});

describe('tables', () => {
  test('round trip', () => {
    const entries = [{ vid: 5, real: 50, owner: 5 }, { vid: 6, real: 60, owner: 5 }];
    const buf = encodeTable(entries);
    expect(buf.length).toBe(12 + 2 * 12);
    expect(buf.subarray(0, 4).toString('latin1')).toBe('PIDT');
    expect(decodeTable(buf)).toEqual(entries);
  });
});

describe('claims', () => {
  test('round trip', () => {
    const c = { wanted: 1234, exact: true, pidMax: 4194304, avoid: [7, 8] };
    const buf = encodeClaim(c);
    expect(buf.length).toBe(52);
    expect(buf.subarray(0, 4).toString('latin1')).toBe('PIDC');
    expect(decodeClaim(buf)).toEqual(c);
  });

  test('refuses a wrong size, magic, version or avoid count', () => {
    const good = encodeClaim({ wanted: 5, exact: false, pidMax: 100, avoid: [] });
    expect(() => decodeClaim(good.subarray(0, 51))).toThrow(/51 bytes, expected 52/);
    const magic = Buffer.from(good);
    magic.writeUInt32LE(1, 0);
    expect(() => decodeClaim(magic)).toThrow(/bad claim magic/);
    const version = Buffer.from(good);
    version.writeUInt16LE(9, 4);
    expect(() => decodeClaim(version)).toThrow(/version 9/);
    const many = Buffer.from(good);
    many.writeUInt32LE(9, 16);
    expect(() => decodeClaim(many)).toThrow(/avoids 9 ids, at most 8/);
    expect(() => encodeClaim({ wanted: 5, exact: false, pidMax: 100, avoid: [1, 2, 3, 4, 5, 6, 7, 8, 9] })).toThrow(WireError);
  });
});
