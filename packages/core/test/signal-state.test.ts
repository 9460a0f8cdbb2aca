import { describe, expect, it } from 'vitest';
import type { ImagePendingSignal } from '../src/image/reader.ts';
import { describeItimers, describePendingSignals } from '../src/image/signal-state.ts';

const off = { value_us: 0, interval_us: 0 };

describe('describeItimers', () => {
  it('lists armed timers with their time left and period', () => {
    expect(
      describeItimers({ real: { value_us: 1_250_000, interval_us: 100_000 }, virtual: off, prof: { value_us: 20_000, interval_us: 0 } }),
    ).toBe('real: 1.25 s left, every 0.1 s; prof: 0.02 s left');
  });
  it('keeps microseconds', () => {
    expect(describeItimers({ real: { value_us: 1_000_001, interval_us: 0 }, virtual: off, prof: off })).toBe('real: 1.000001 s left');
  });
  it('says when none is armed', () => {
    expect(describeItimers({ real: off, virtual: off, prof: off })).toBe('none armed');
  });
});

describe('describePendingSignals', () => {
  const sig = (s: Partial<ImagePendingSignal>): ImagePendingSignal => ({ sig: 10, tid: 0, code: 0, pid: 1, uid: 0, value: 0, ...s });
  it('groups by queue, the process first, in queue order', () => {
    expect(
      describePendingSignals([
        sig({ sig: 12, tid: 4243, code: -6 }),
        sig({ sig: 34, code: -1, value: 7 }),
        sig({ sig: 34, code: -1, value: 8 }),
        sig({ sig: 10 }),
        sig({ sig: 17, tid: 4243, code: 1 }),
      ]),
    ).toBe('process: 34 (sigqueue 7), 34 (sigqueue 8), 10 (kill); thread 4243: 12 (tkill), 17 (code 1)');
  });
  it('says when nothing is pending', () => {
    expect(describePendingSignals([])).toBe('none');
  });
});
