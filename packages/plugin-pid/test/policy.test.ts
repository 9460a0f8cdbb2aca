// Merging the per-process reports of a restart into the table each process
// loads: duplicates fail the restart naming both claimants, virtual ids
// that are real ids of other tasks are allowed and reported, hosts are
// kept apart, replies fit the barrier reply limit.
import type { HelloInfo } from '@dmtcp/core/plugin';
import { describe, expect, test } from 'vitest';
import { buildReplies, decodeReports, MAX_REPLY_ENTRIES, mergeRecords, PidTableError, type ProcessReport } from '../src/policy.ts';
import { restartPolicy } from '../src/coordinator.ts';
import { decodeTable, encodeRecord, type PidRecord, type TableEntry } from '../src/wire.ts';

function rep(upid: string, record: PidRecord, host = 'h1', prog = 'app'): ProcessReport {
  return { upid, host, prog, record };
}

const parent = rep('01', { vpid: 100, real: 500, threads: [{ vtid: 103, real: 503 }] });
const child = rep('02', { vpid: 101, real: 501, threads: [] });
const grand = rep('03', { vpid: 102, real: 502, threads: [] });

describe('mergeRecords', () => {
  test('one table per host with every process and thread, sorted by virtual id', () => {
    const m = mergeRecords([grand, parent, child]);
    expect([...m.hosts.keys()]).toEqual(['h1']);
    expect(m.hosts.get('h1')).toEqual([
      { vid: 100, real: 500, owner: 100 },
      { vid: 101, real: 501, owner: 101 },
      { vid: 102, real: 502, owner: 102 },
      { vid: 103, real: 503, owner: 100 },
    ]);
    expect(m.conflicts).toEqual([]);
  });

  test('two processes claiming one virtual pid fail the restart, naming both', () => {
    const twin = rep('04', { vpid: 101, real: 777, threads: [] }, 'h1', 'other');
    expect(() => mergeRecords([parent, child, twin])).toThrow(PidTableError);
    expect(() => mergeRecords([parent, child, twin])).toThrow(
      'virtual id 101 on host h1 is claimed by process app (upid 02, vpid 101) and by process other (upid 04, vpid 101)',
    );
  });

  test('a thread claiming a process\'s virtual pid is a duplicate too', () => {
    const bad = rep('05', { vpid: 200, real: 600, threads: [{ vtid: 101, real: 601 }] });
    expect(() => mergeRecords([child, bad])).toThrow(/virtual id 101 .* and by thread 101 of process app \(upid 05, vpid 200\)/);
  });

  test('one real id reported twice means a stale record', () => {
    const stale = rep('06', { vpid: 300, real: 501, threads: [] });
    expect(() => mergeRecords([child, stale])).toThrow(/real id 501 on host h1 is reported by .* one of the records is stale/);
  });

  test('threads whose real tid is not known yet do not collide with each other', () => {
    const a = rep('07', { vpid: 400, real: 900, threads: [{ vtid: 401, real: 0 }, { vtid: 402, real: 0 }] });
    expect(mergeRecords([a]).hosts.get('h1')).toHaveLength(3);
  });

  test('a virtual id equal to another task\'s real id is kept and reported', () => {
    // After restart the kernel gave process A the number B had before.
    const a = rep('0a', { vpid: 10, real: 20, threads: [] });
    const b = rep('0b', { vpid: 20, real: 30, threads: [{ vtid: 21, real: 10 }] });
    const m = mergeRecords([a, b]);
    expect(m.hosts.get('h1')).toEqual([
      { vid: 10, real: 20, owner: 10 },
      { vid: 20, real: 30, owner: 20 },
      { vid: 21, real: 10, owner: 20 },
    ]);
    expect(m.conflicts).toEqual([
      { host: 'h1', id: 10, virtualOf: 'process app (upid 0a, vpid 10)', realOf: 'thread 21 of process app (upid 0b, vpid 20)' },
      { host: 'h1', id: 20, virtualOf: 'process app (upid 0b, vpid 20)', realOf: 'process app (upid 0a, vpid 10)' },
    ]);
  });

  test('a task whose virtual and real ids are equal is no conflict', () => {
    expect(mergeRecords([rep('01', { vpid: 5, real: 5, threads: [] })]).conflicts).toEqual([]);
  });

  test('hosts are separate pid spaces: the same ids on two hosts are fine', () => {
    const m = mergeRecords([rep('01', { vpid: 100, real: 500, threads: [] }, 'a'), rep('02', { vpid: 100, real: 500, threads: [] }, 'b')]);
    expect(m.hosts.get('a')).toEqual([{ vid: 100, real: 500, owner: 100 }]);
    expect(m.hosts.get('b')).toEqual([{ vid: 100, real: 500, owner: 100 }]);
  });
});

describe('buildReplies', () => {
  test('each process gets its host\'s table without its own entries', () => {
    const reports = [parent, child, grand, rep('09', { vpid: 100, real: 1, threads: [] }, 'h2')];
    const { replies, withoutForeignThreads } = buildReplies(reports, mergeRecords(reports));
    expect(decodeTable(replies.get('01')!)).toEqual([{ vid: 101, real: 501, owner: 101 }, { vid: 102, real: 502, owner: 102 }]);
    expect(decodeTable(replies.get('02')!).map((e) => e.vid)).toEqual([100, 102, 103]);
    expect(decodeTable(replies.get('09')!)).toEqual([]);
    expect(withoutForeignThreads).toEqual([]);
  });

  function many(processes: number, threadsEach: number): ProcessReport[] {
    return Array.from({ length: processes }, (_, i) => {
      const vpid = 1000 + i * 100;
      const threads = Array.from({ length: threadsEach }, (_, t) => ({ vtid: vpid + 1 + t, real: 50000 + i * 100 + t }));
      return rep(`u${i}`, { vpid, real: 40000 + i, threads });
    });
  }

  test('when threads of other processes do not fit, they are left out', () => {
    const reports = many(100, 10); // 1100 entries: too many for one reply
    const { replies, withoutForeignThreads } = buildReplies(reports, mergeRecords(reports));
    expect(withoutForeignThreads).toHaveLength(100);
    const table: TableEntry[] = decodeTable(replies.get('u0')!);
    expect(table).toHaveLength(99);
    expect(table.every((e) => e.owner === e.vid)).toBe(true);
    for (const r of replies.values()) expect(r.length).toBeLessThanOrEqual(8191);
  });

  test('when even the processes do not fit, the restart fails naming the limit', () => {
    const reports = many(MAX_REPLY_ENTRIES + 2, 0);
    expect(() => buildReplies(reports, mergeRecords(reports))).toThrow(/host h1 has 683 processes: .* \(8191 bytes, at most 681 entries\)/);
  });

  test('exactly the limit fits', () => {
    const reports = many(MAX_REPLY_ENTRIES + 1, 0);
    const { replies } = buildReplies(reports, mergeRecords(reports));
    expect(replies.get('u0')!.length).toBe(12 + MAX_REPLY_ENTRIES * 12);
  });
});

describe('decodeReports and the coordinator policy', () => {
  test('an unusable record names its process', () => {
    expect(() => decodeReports([{ upid: '0f', payload: Buffer.alloc(0), host: 'h', prog: 'sleepy' }])).toThrow(
      'process sleepy (upid 0f) sent an unusable pid record: empty record',
    );
  });

  test('restartPolicy answers every process from its records', () => {
    const hello = (upid: string, pid: number): HelloInfo => ({
      kind: 'restart', upid, pid, ppid: 1, host: 'h1', prog: 'app', argv: ['app'], ckptdir: '/tmp', plugins: [],
      parentUpid: null, numPeers: 2, image: null, interval: 0, fields: {},
    });
    const replies = restartPolicy([
      { upid: 'a', payload: encodeRecord({ vpid: 10, real: 20, threads: [] }), hello: hello('a', 20) },
      { upid: 'b', payload: encodeRecord({ vpid: 11, real: 10, threads: [{ vtid: 12, real: 21 }] }), hello: hello('b', 10) },
    ]);
    expect(decodeTable(replies.get('a')!)).toEqual([{ vid: 11, real: 10, owner: 11 }, { vid: 12, real: 21, owner: 11 }]);
    expect(decodeTable(replies.get('b')!)).toEqual([{ vid: 10, real: 20, owner: 10 }]);
  });
});
