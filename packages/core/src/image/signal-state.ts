// One-line descriptions of the interval timers and pending signals an image
// recorded, for `dmtcp image inspect`.
import { ITIMER_NAMES, type ImageItimers, type ImagePendingSignal } from './reader.ts';

function seconds(us: number): string {
  return `${(us / 1e6).toFixed(us % 1000 === 0 ? 3 : 6).replace(/\.?0+$/, '')} s`;
}

/** "real: 1.25 s left, every 0.1 s; prof: 0.02 s left" or "none armed". */
export function describeItimers(t: ImageItimers): string {
  const parts: string[] = [];
  for (const name of ITIMER_NAMES) {
    const { value_us, interval_us } = t[name];
    if (value_us === 0) continue;
    parts.push(`${name}: ${seconds(value_us)} left${interval_us ? `, every ${seconds(interval_us)}` : ''}`);
  }
  return parts.length ? parts.join('; ') : 'none armed';
}

const CODE_NAMES = new Map<number, string>([
  [0, 'kill'],
  [-1, 'sigqueue'],
  [-2, 'timer'],
  [-3, 'mesgq'],
  [-4, 'asyncio'],
  [-5, 'sigio'],
  [-6, 'tkill'],
  [0x80, 'kernel'],
]);

function one(s: ImagePendingSignal): string {
  const how = CODE_NAMES.get(s.code) ?? `code ${s.code}`;
  return `${s.sig} (${how}${s.code === -1 ? ` ${s.value}` : ''})`;
}

/** "process: 34 (sigqueue 1), 10 (kill); thread 4243: 12 (tkill)" in queue order, or "none". */
export function describePendingSignals(list: readonly ImagePendingSignal[]): string {
  const queues = new Map<number, ImagePendingSignal[]>();
  for (const s of list) queues.set(s.tid, [...(queues.get(s.tid) ?? []), s]);
  const order = [...queues.keys()].sort((a, b) => a - b);
  const parts = order.map((tid) => `${tid === 0 ? 'process' : `thread ${tid}`}: ${(queues.get(tid) ?? []).map(one).join(', ')}`);
  return parts.length ? parts.join('; ') : 'none';
}
