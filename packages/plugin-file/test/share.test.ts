import { describe, expect, test } from 'vitest';
import {
  DRAIN_BARRIER, MAX_CANDIDATES, RecordError, SHARE_BARRIER, chooseDrainers, decodeDrainRecord, decodeShareRecord,
  drainPolicy, sharePolicy,
} from '../src/share.ts';
import plugin from '../src/coordinator.ts';

const upid = (n: number): string => n.toString(16).padStart(16, '0');
const obj = (n: number): string => (0xa000 + n).toString(16).padStart(16, '0');
const rec = (u: number, lines: string[]) => ({ upid: upid(u), payload: Buffer.from(lines.map((l) => `${l}\n`).join(''), 'latin1') });
const text = (m: Map<string, Buffer>, u: number): string[] => (m.get(upid(u))?.toString('latin1') ?? '').split('\n').slice(0, -1);

describe('file:drain', () => {
  test('decodes a record', () => {
    expect(decodeDrainRecord(rec(1, ['h 42', `o ${obj(1)} p r 3 0 0`]).payload, upid(1))).toEqual({
      upid: upid(1), pid: 42, lines: [{ obj: obj(1), kind: 'p', mode: 'r', fd: 3, flags: '0', pos: '0' }],
    });
  });

  test.each([
    ['no trailing newline', Buffer.from('h 1', 'latin1')],
    ['an unknown line', Buffer.from('z 1\n', 'latin1')],
    ['a short key', Buffer.from('o abc p r 3 0 0\n', 'latin1')],
    ['an unknown kind', Buffer.from(`o ${obj(1)} q r 3 0 0\n`, 'latin1')],
    ['a missing field', Buffer.from(`o ${obj(1)} p r 3 0\n`, 'latin1')],
  ])('rejects %s', (_what, payload) => {
    expect(() => decodeDrainRecord(payload, upid(1))).toThrow(RecordError);
  });

  test('the lowest upid holding a readable end drains a pipe with both ends in the computation', () => {
    const reports = [
      decodeDrainRecord(rec(3, ['h 30', `o ${obj(1)} p r 4 0 0`]).payload, upid(3)),
      decodeDrainRecord(rec(2, ['h 20', `o ${obj(1)} p w 5 1 0`, `o ${obj(1)} p r 6 0 0`]).payload, upid(2)),
    ];
    // Process 2's read end (its second line).
    expect([...chooseDrainers(reports)]).toEqual(['1:1']);
  });

  test('a pipe with only its reading or only its writing end in the computation is left alone', () => {
    const reports = [
      decodeDrainRecord(rec(1, ['h 10', `o ${obj(1)} p r 0 0 0`, `o ${obj(2)} p w 1 1 0`, `o ${obj(3)} f r 3 0 0`]).payload, upid(1)),
      decodeDrainRecord(rec(2, ['h 20', `o ${obj(1)} p r 0 0 0`, `o ${obj(2)} p w 1 1 0`]).payload, upid(2)),
    ];
    expect([...chooseDrainers(reports)]).toEqual([]);
  });

  test('a pty is drained by a process holding its master, a FIFO by a reader when a writer is in too', () => {
    const reports = [
      decodeDrainRecord(rec(1, ['h 10', `o ${obj(1)} s b 0 2 0`, `o ${obj(2)} f w 4 1 0`]).payload, upid(1)),
      decodeDrainRecord(rec(2, ['h 20', `o ${obj(1)} m b 3 2 0`, `o ${obj(2)} f r 5 0 0`]).payload, upid(2)),
    ];
    expect([...chooseDrainers(reports)].sort()).toEqual(['1:0', '1:1']);
  });

  test('candidates: same object, kind, flags and offset, lower upids only, lowest first, at most MAX_CANDIDATES', () => {
    const records = [
      rec(5, ['h 50', `o ${obj(1)} F w 3 8001 100`]),
      rec(1, ['h 10', `o ${obj(1)} F w 3 8001 100`, `o ${obj(1)} F w 4 8001 0`]),
      rec(3, ['h 30', `o ${obj(1)} F w 7 8001 100`]),
    ];
    const replies = drainPolicy(records);
    expect(text(replies, 1)).toEqual(['0 0', '0 0']);
    expect(text(replies, 3)).toEqual([`0 1 ${upid(1)} 10 3`]);
    expect(text(replies, 5)).toEqual([`0 2 ${upid(1)} 10 3 ${upid(3)} 30 7`]);
    const many = Array.from({ length: MAX_CANDIDATES + 5 }, (_, i) => rec(i + 1, [`h ${i + 100}`, `o ${obj(9)} p w 1 1 0`]));
    const last = text(drainPolicy(many), MAX_CANDIDATES + 5)[0]!.split(' ');
    expect(last[1]).toBe(String(MAX_CANDIDATES));
    expect(last[2]).toBe(upid(1));
  });

  test('a process with nothing to report gets no reply', () => {
    expect(drainPolicy([rec(1, ['h 10'])]).size).toBe(0);
  });
});

describe('file:share', () => {
  const d = (o: number, kind: string, mode: string, owner: number, fd: number, flags = '0', pos = '0'): string =>
    `d ${obj(o)} ${kind} ${mode} ${upid(owner)} ${fd} ${flags} ${pos}`;

  test('decodes a record; a record with descriptions must name its socket', () => {
    expect(decodeShareRecord(rec(1, ['s dmtcp-file:1:2', d(1, 'p', 'r', 1, 3)]).payload, upid(1)).socket).toBe('dmtcp-file:1:2');
    expect(() => decodeShareRecord(rec(1, [d(1, 'p', 'r', 1, 3)]).payload, upid(1))).toThrow(/names no socket/);
    expect(() => decodeShareRecord(rec(1, ['s a b']).payload, upid(1))).toThrow(RecordError);
  });

  test('a pipe between two processes: the lower upid recreates it and sends the other end', () => {
    const replies = sharePolicy([
      rec(2, ['s sock2', d(1, 'p', 'r', 2, 3)]),
      rec(1, ['s sock1', d(1, 'p', 'w', 1, 4, '1')]),
    ]);
    expect(text(replies, 1)).toEqual(['L', 'x sock2 1', `c ${obj(1)} p r ${upid(2)} 3 0 0`]);
    expect(text(replies, 2)).toEqual(['<']);
  });

  test('a description shared by several processes is one class, sent once to each', () => {
    const replies = sharePolicy([
      rec(1, ['s s1', d(1, 'F', 'w', 1, 3, '1', '120')]),
      rec(2, ['s s2', d(1, 'F', 'w', 1, 3, '1', '120'), d(1, 'F', 'r', 2, 5)]),
      rec(3, ['s s3', d(1, 'F', 'w', 1, 3, '1', '120')]),
    ]);
    expect(text(replies, 1)).toEqual([
      'L',
      'x s2 2', `c ${obj(1)} F w ${upid(1)} 3 1 120`, `c ${obj(1)} F r ${upid(2)} 5 0 0`,
      'x s3 1', `c ${obj(1)} F w ${upid(1)} 3 1 120`,
    ]);
    expect(text(replies, 2)).toEqual(['<', '<']);
    expect(text(replies, 3)).toEqual(['<']);
  });

  test('what one process restores alone: a file only it holds, a pipe whose other end is outside, a terminal whose master is elsewhere', () => {
    const replies = sharePolicy([
      rec(1, ['s s1', d(1, 'F', 'r', 1, 3), d(2, 'p', 'w', 1, 1, '1'), d(3, 's', 'b', 1, 0, '2')]),
      rec(2, ['s s2', d(2, 'p', 'w', 1, 1, '1'), d(3, 's', 'b', 1, 0, '2')]),
    ]);
    expect(text(replies, 1)).toEqual(['=', '=', '=']);
    expect(text(replies, 2)).toEqual(['=', '=']);
  });

  test('a FIFO held by one process and a pty whose master is ours are recreated even by a process alone', () => {
    const replies = sharePolicy([rec(4, ['s s4', d(1, 'f', 'r', 4, 3), d(2, 'm', 'b', 4, 5, '2'), d(2, 's', 'b', 4, 6, '2')])]);
    expect(text(replies, 4)).toEqual(['L', 'L', 'L']);
  });

  const ds = (o: number, kind: string, mode: string, owner: number, fd: number, std: number): string =>
    `${d(o, kind, mode, owner, fd)} ${std}`;

  test('a pipe or socket to outside: a process that held the description only above 2 gets the number another had it on', () => {
    const replies = sharePolicy([
      // the parent: stdout (pipe to tee) on 1 and 2, stdin (pipe from outside) on 0, a socket on 1 of a second object
      rec(1, ['s s1', ds(1, 'p', 'w', 1, 1, 1), ds(2, 'p', 'r', 1, 0, 0), ds(3, 'S', 'b', 1, 7, -1)]),
      // a child that moved them above 2, as a shell does around a redirection
      rec(2, ['s s2', ds(1, 'p', 'w', 1, 1, -1), ds(2, 'p', 'r', 1, 0, -1), ds(3, 'S', 'b', 1, 7, 2)]),
      // a child that kept its stdout: its own number
      rec(3, ['s s3', ds(1, 'p', 'w', 1, 1, 1)]),
    ]);
    expect(text(replies, 1)).toEqual(['=', '=', '2']);
    expect(text(replies, 2)).toEqual(['1', '0', '=']);
    expect(text(replies, 3)).toEqual(['=']);
  });

  test('the lowest number any holder had wins; other descriptions, FIFOs, terminals and pipes inside are left alone', () => {
    const replies = sharePolicy([
      rec(1, ['s s1', ds(1, 'S', 'b', 1, 2, 2), ds(4, 's', 'b', 1, 0, 0), ds(5, 'f', 'w', 1, 1, 1)]),
      rec(2, ['s s2', ds(1, 'S', 'b', 1, 2, 1), ds(4, 's', 'b', 1, 0, -1), ds(5, 'f', 'w', 1, 1, -1)]),
      rec(3, ['s s3', ds(1, 'S', 'b', 1, 2, -1), ds(1, 'S', 'b', 3, 9, -1), ds(6, 'p', 'w', 3, 1, 1), ds(6, 'p', 'r', 3, 5, -1)]),
    ]);
    // a description of the same socket that nobody had on 0-2 (owner 3, fd 9) stays as it was
    expect(text(replies, 3).slice(0, 4)).toEqual(['1', '=', 'L', 'L']);
    expect(text(replies, 1)).toEqual(['=', '=', 'L', 'x s2 1', `c ${obj(5)} f w ${upid(1)} 1 0 0`]);
    expect(text(replies, 2)).toEqual(['=', '=', '<']);
  });

  test('STD must be -1, 0, 1 or 2', () => {
    expect(decodeShareRecord(rec(1, ['s s1', ds(1, 'S', 'b', 1, 2, 2)]).payload, upid(1)).lines[0]?.std).toBe(2);
    expect(decodeShareRecord(rec(1, ['s s1', d(1, 'S', 'b', 1, 2)]).payload, upid(1)).lines[0]?.std).toBe(-1);
    expect(() => decodeShareRecord(rec(1, ['s s1', ds(1, 'S', 'b', 1, 2, 3)]).payload, upid(1))).toThrow(RecordError);
  });

  test('the coordinator module serves the three barriers', () => {
    expect(Object.keys(plugin.policies ?? {}).sort()).toEqual(['file:drain', 'file:restore-contents', 'file:share']);
    expect([DRAIN_BARRIER, SHARE_BARRIER]).toEqual(['file:drain', 'file:share']);
  });
});
