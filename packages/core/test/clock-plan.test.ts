import { describe, expect, test } from 'vitest';
import { clockPlanImage, clockSpec, type ClockPlanImage } from '../src/image/clock-plan.ts';

const BOOT = '0f0e0d0c-0000-4000-8000-000000000001';
const S = 1_000_000_000n;

function image(o: Partial<NonNullable<ClockPlanImage['clocks']>> & { real?: bigint } = {}): ClockPlanImage {
  return {
    ckptTimeNs: o.real ?? 1_700_000_000n * S,
    clocks: {
      bootId: o.bootId ?? BOOT,
      monotonicNs: o.monotonicNs ?? 500n * S,
      boottimeNs: o.boottimeNs ?? 600n * S,
      monotonicOffsetNs: o.monotonicOffsetNs ?? 0n,
      boottimeOffsetNs: o.boottimeOffsetNs ?? 0n,
    },
  };
}

const here = { bootId: BOOT, timeNamespace: true };

describe('clockSpec', () => {
  test('same boot, elapsed: the checkpoint\'s offsets (the restart program does nothing when they are its own)', () => {
    expect(clockSpec([image()], 'elapsed', here)).toBe('o,0,0,0,1');
    expect(clockSpec([image({ monotonicOffsetNs: 100n * S, boottimeOffsetNs: -5n })], 'elapsed', here))
      .toBe(`o,${100n * S},-5,0,1`);
  });

  test('another boot, elapsed: the readings go on by the wall-clock time since the checkpoint', () => {
    expect(clockSpec([image({ bootId: 'other' })], 'elapsed', here)).toBe(`e,${500n * S},${600n * S},${1_700_000_000n * S},1`);
    expect(clockSpec([image()], 'elapsed', { bootId: null, timeNamespace: false })).toMatch(/^e,.*,0$/);
  });

  test('several images: no process\'s clock goes back', () => {
    // The second checkpointed 1 s later with a MONOTONIC 2 s higher: its base wins
    // for MONOTONIC; for BOOTTIME (the same reading 1 s earlier) the first's.
    const a = image({ bootId: 'x', real: 10n * S, monotonicNs: 100n * S, boottimeNs: 200n * S });
    const b = image({ bootId: 'x', real: 11n * S, monotonicNs: 102n * S, boottimeNs: 200n * S });
    expect(clockSpec([a, b], 'elapsed', here)).toBe(`e,${102n * S},${201n * S},${11n * S},1`);
    expect(clockSpec([a, b], 'frozen', here)).toBe(`f,${102n * S},${200n * S},0,1`);
    // Same boot but checkpointed under different offsets: treated like another boot.
    const c = image({ monotonicOffsetNs: 7n });
    expect(clockSpec([image(), c], 'elapsed', here)).toMatch(/^e,/);
  });

  test('frozen: the highest readings, whatever the boot', () => {
    expect(clockSpec([image()], 'frozen', here)).toBe(`f,${500n * S},${600n * S},0,1`);
  });

  test('no time namespace allowed: NS is 0', () => {
    expect(clockSpec([image()], 'frozen', { bootId: BOOT, timeNamespace: false })).toBe(`f,${500n * S},${600n * S},0,0`);
  });

  test('images without clock notes: nothing to pass', () => {
    expect(clockSpec([{ ckptTimeNs: 1n, clocks: null }], 'elapsed', here)).toBeNull();
    expect(clockSpec([image(), { ckptTimeNs: 1n, clocks: null }], 'frozen', here)).toBeNull();
    expect(clockSpec([], 'elapsed', here)).toBeNull();
  });

  test('values outside int64 are not passed', () => {
    expect(clockSpec([image({ monotonicNs: 1n << 63n })], 'frozen', here)).toBeNull();
  });
});

test('clockPlanImage reads the metadata strings', () => {
  expect(clockPlanImage({
    ckpt_time_ns: '12',
    clocks: { boot_id: 'b', monotonic_ns: '3', boottime_ns: '4', monotonic_offset_ns: '-5', boottime_offset_ns: '6' },
  })).toEqual({ ckptTimeNs: 12n, clocks: { bootId: 'b', monotonicNs: 3n, boottimeNs: 4n, monotonicOffsetNs: -5n, boottimeOffsetNs: 6n } });
  expect(clockPlanImage({ ckpt_time_ns: '1', clocks: null }).clocks).toBeNull();
});
