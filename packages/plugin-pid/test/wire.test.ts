// The TypeScript mirror of native/pid_wire.h agrees with it, and records and
// tables survive a round trip; malformed records are refused with a reason.
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import * as wire from '../src/wire.ts';
import { decodeClaim, decodeRecord, decodeTable, encodeClaim, encodeRecord, encodeTable, WireError } from '../src/wire.ts';

const header = readFileSync(new URL('../native/pid_wire.h', import.meta.url), 'utf8');

function defineOf(name: string): string {
  const m = new RegExp(`^#define ${name}\\s+(.+?)(?:\\s*/\\*.*)?$`, 'm').exec(header);
  if (!m) throw new Error(`pid_wire.h defines no ${name}`);
  return m[1]!.trim();
}

describe('native/pid_wire.h and src/wire.ts', () => {
  test.each([
    'PID_WIRE_VERSION', 'PID_RECORD_MAGIC', 'PID_TABLE_MAGIC', 'PID_RECORD_HEADER_SIZE', 'PID_RECORD_THREAD_SIZE',
    'PID_TABLE_HEADER_SIZE', 'PID_TABLE_ENTRY_SIZE', 'PID_REPLY_MAX', 'PID_CLAIM_MAGIC', 'PID_CLAIM_EXACT',
    'PID_CLAIM_MAX_AVOID', 'PID_CLAIM_SIZE',
  ])('%s', (name) => {
    const c = Number(defineOf(name).replace(/u$/, ''));
    expect((wire as unknown as Record<string, number>)[name]).toBe(c);
  });

  test('barrier and call names', () => {
    expect(JSON.parse(defineOf('PID_BARRIER_RESTART'))).toBe(wire.PID_BARRIER_RESTART);
    expect(JSON.parse(defineOf('PID_CALL_CLAIM'))).toBe(wire.PID_CALL_CLAIM);
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
