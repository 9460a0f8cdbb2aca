// The registry of virtual ids: a number goes to one owner at a time, in the
// whole computation; a refused claim gets a spare number (or nothing, when
// exact); a leave frees the owner's numbers.
import { describe, expect, test } from 'vitest';
import { LOWEST_SPARE, UNKNOWN_OWNER, VidRegistry } from '../src/claims.ts';

const want = (wanted: number, extra: Partial<{ exact: boolean; pidMax: number; avoid: number[] }> = {}) => ({
  wanted, exact: false, pidMax: 1000, avoid: [], ...extra,
});

describe('VidRegistry', () => {
  test('a free number is granted, and again to its owner', () => {
    const r = new VidRegistry();
    expect(r.claim('a', want(42))).toBe(42);
    expect(r.claim('a', want(42))).toBe(42);
    expect(r.ownerOf(42)).toBe('a');
  });

  test('a number held elsewhere: refused when exact, else the highest free spare not avoided', () => {
    const r = new VidRegistry();
    r.claim('a', want(42));
    r.claim('a', want(999));
    expect(r.claim('b', want(42, { exact: true }))).toBe(0);
    expect(r.ownerOf(42)).toBe('a');
    expect(r.claim('b', want(42, { avoid: [998] }))).toBe(997);
    expect(r.ownerOf(997)).toBe('b');
  });

  test('restored ids count as held, threads included', () => {
    const r = new VidRegistry();
    r.restored('a', [100, 101, 102]);
    expect(r.claim('b', want(101, { exact: true }))).toBe(0);
    expect(r.claim('b', want(103, { exact: true }))).toBe(103);
  });

  test('a leave frees every id of its owner, not the others', () => {
    const r = new VidRegistry();
    r.restored('a', [100, 101]);
    r.claim('b', want(200));
    r.release('a');
    expect(r.ownerOf(100)).toBeUndefined();
    expect(r.ownerOf(200)).toBe('b');
    expect(r.claim('c', want(100, { exact: true }))).toBe(100);
    expect(r.size).toBe(2);
  });

  test('callers the coordinator does not know never share a number', () => {
    const r = new VidRegistry();
    expect(r.claim(null, want(5))).toBe(5);
    expect(r.ownerOf(5)).toBe(UNKNOWN_OWNER);
    expect(r.claim(null, want(5, { exact: true }))).toBe(0);
  });

  test('no spare left: 0', () => {
    const r = new VidRegistry();
    const pidMax = LOWEST_SPARE + 2;
    r.restored('a', [LOWEST_SPARE, LOWEST_SPARE + 1]);
    expect(r.claim('b', want(LOWEST_SPARE, { pidMax }))).toBe(0);
  });

  test('clear forgets everything', () => {
    const r = new VidRegistry();
    r.claim('a', want(7));
    r.clear();
    expect(r.size).toBe(0);
  });
});
