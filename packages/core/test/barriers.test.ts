import { describe, expect, it } from 'vitest';
import {
  BARRIER_RESTART_CONNECTED,
  BARRIER_RESTART_DONE,
  BARRIER_RESUMED,
  BARRIER_SUSPENDED,
  BARRIER_WRITTEN,
  collectImages,
  resolveReplies,
  Round,
} from '../src/coordinator/barriers.ts';
import type { BarrierRecord, HelloInfo } from '../src/coordinator/types.ts';

function hello(upid: string, over: Partial<HelloInfo> = {}): HelloInfo {
  return {
    kind: 'launch', upid, pid: Number.parseInt(upid, 16) + 1000, ppid: 1, host: 'h', prog: `p${upid}`, argv: [],
    ckptdir: '/ck', plugins: [], parentUpid: null, numPeers: 0, image: null, interval: 0, fields: {}, ...over,
  };
}

const b = (s: string) => Buffer.from(s);

function checkpointRound(n: number): Round {
  const r = new Round('checkpoint', 1n);
  for (let i = 1; i <= n; i++) r.add(String(i), hello(String(i)));
  return r;
}

describe('Round (checkpoint)', () => {
  it('releases a barrier only when every participant has arrived', () => {
    const r = checkpointRound(3);
    expect(r.arrive('1', BARRIER_SUSPENDED, b('a'))).toEqual({ ok: true, ready: false });
    expect(r.arrive('3', BARRIER_SUSPENDED, b('c'))).toEqual({ ok: true, ready: false });
    expect(r.arrive('2', BARRIER_SUSPENDED, b(''))).toEqual({ ok: true, ready: true });
    const recs = r.release(BARRIER_SUSPENDED);
    // Records follow join order, not arrival order.
    expect(recs.map((x) => [x.upid, x.payload.toString()])).toEqual([['1', 'a'], ['2', ''], ['3', 'c']]);
    expect(recs[0]?.hello.prog).toBe('p1');
    expect(r.released).toEqual([BARRIER_SUSPENDED]);
  });

  it('runs any sequence of names in order', () => {
    const r = checkpointRound(2);
    for (const name of [BARRIER_SUSPENDED, 'socket:drain', 'pid:leader', BARRIER_WRITTEN, BARRIER_RESUMED]) {
      r.arrive('2', name, b(''));
      expect(r.isReady(name)).toBe(false);
      expect(r.arrive('1', name, b('')).ok && r.isReady(name)).toBe(true);
      r.release(name);
    }
    expect(r.released.at(-1)).toBe(r.lastBarrier);
  });

  it('refuses duplicates, strangers and released names', () => {
    const r = checkpointRound(2);
    r.arrive('1', BARRIER_SUSPENDED, b(''));
    expect(r.arrive('1', BARRIER_SUSPENDED, b(''))).toMatchObject({ ok: false, error: expect.stringMatching(/twice/) });
    expect(r.arrive('9', BARRIER_SUSPENDED, b(''))).toMatchObject({ ok: false, error: expect.stringMatching(/does not take part/) });
    r.arrive('2', BARRIER_SUSPENDED, b(''));
    r.release(BARRIER_SUSPENDED);
    expect(r.arrive('1', BARRIER_SUSPENDED, b(''))).toMatchObject({ ok: false, error: expect.stringMatching(/already released/) });
    expect(() => r.release('nope')).toThrow(/not ready/);
  });

  it('lets processes join until the first release', () => {
    const r = checkpointRound(1);
    expect(r.joinable).toBe(true);
    r.arrive('1', BARRIER_SUSPENDED, b(''));
    // A joiner makes the barrier wait for it too.
    r.add('2', hello('2'));
    expect(r.isReady(BARRIER_SUSPENDED)).toBe(false);
    expect(r.arrive('2', BARRIER_SUSPENDED, b('')).ok).toBe(true);
    expect(r.isReady(BARRIER_SUSPENDED)).toBe(true);
    r.release(BARRIER_SUSPENDED);
    expect(r.joinable).toBe(false);
    expect(() => r.add('2', hello('2'))).toThrow(/already/);
  });

  it('treats a leave before ckpt:written as fatal and after it as harmless', () => {
    const r = checkpointRound(2);
    expect(r.leaveIsFatal).toBe(true);
    for (const name of [BARRIER_SUSPENDED, BARRIER_WRITTEN]) {
      r.arrive('1', name, b(''));
      r.arrive('2', name, b(''));
      if (name === BARRIER_SUSPENDED) expect(r.leaveIsFatal).toBe(true);
      r.release(name);
    }
    expect(r.leaveIsFatal).toBe(false);
  });

  it('completes a barrier the leaver was holding up', () => {
    const r = checkpointRound(3);
    r.arrive('1', BARRIER_RESUMED, b(''));
    r.arrive('2', BARRIER_RESUMED, b(''));
    expect(r.remove('3')).toEqual([BARRIER_RESUMED]);
    expect(r.release(BARRIER_RESUMED).map((x) => x.upid)).toEqual(['1', '2']);
  });

  it('forgets the arrival of a process that left', () => {
    const r = checkpointRound(2);
    r.arrive('1', BARRIER_RESUMED, b(''));
    expect(r.remove('1')).toEqual([]);
    expect(r.isReady(BARRIER_RESUMED)).toBe(false);
    expect(r.remove('1')).toEqual([]);
    expect(r.arrive('2', BARRIER_RESUMED, b('')).ok && r.isReady(BARRIER_RESUMED)).toBe(true);
  });

  it('knows whether a process has reached any barrier', () => {
    const r = checkpointRound(2);
    expect(r.hasArrivedAnywhere('1')).toBe(false);
    r.arrive('1', BARRIER_SUSPENDED, b(''));
    expect(r.hasArrivedAnywhere('1')).toBe(true);
    expect(r.hasArrivedAnywhere('2')).toBe(false);
  });

  it('stays O(1) per arrival with many processes', () => {
    const n = 5000;
    const r = checkpointRound(n);
    let ready = 0;
    for (let i = 1; i <= n; i++) {
      const res = r.arrive(String(i), BARRIER_SUSPENDED, b(''));
      if (res.ok && res.ready) ready++;
    }
    expect(ready).toBe(1);
    expect(r.release(BARRIER_SUSPENDED)).toHaveLength(n);
  });
});

describe('Round (restart)', () => {
  it('waits at restart:connected for every peer of the computation', () => {
    const r = new Round('restart', 7n);
    r.add('1', hello('1', { kind: 'restart', numPeers: 3 }));
    r.arrive('1', BARRIER_RESTART_CONNECTED, b(''));
    r.add('2', hello('2', { kind: 'restart', numPeers: 3 }));
    expect(r.arrive('2', BARRIER_RESTART_CONNECTED, b(''))).toEqual({ ok: true, ready: false });
    r.add('3', hello('3', { kind: 'restart', numPeers: 3 }));
    expect(r.arrive('3', BARRIER_RESTART_CONNECTED, b(''))).toEqual({ ok: true, ready: true });
    r.release(BARRIER_RESTART_CONNECTED);
    expect(r.joinable).toBe(false);
    for (const u of ['1', '2']) r.arrive(u, BARRIER_RESTART_DONE, b(''));
    expect(r.arrive('3', BARRIER_RESTART_DONE, b(''))).toEqual({ ok: true, ready: true });
    expect(r.lastBarrier).toBe(BARRIER_RESTART_DONE);
  });

  it('takes the largest num_peers reported', () => {
    const r = new Round('restart', 1n);
    r.add('1', hello('1', { kind: 'restart', numPeers: 1 }));
    r.add('2', hello('2', { kind: 'restart', numPeers: 3 }));
    r.arrive('1', BARRIER_RESTART_CONNECTED, b(''));
    expect(r.arrive('2', BARRIER_RESTART_CONNECTED, b(''))).toEqual({ ok: true, ready: false });
    expect(r.expectedPeers).toBe(3);
  });

  it('counts a peer that connected and died, so the others are not stuck', () => {
    const r = new Round('restart', 1n);
    r.add('1', hello('1', { kind: 'restart', numPeers: 2 }));
    r.add('2', hello('2', { kind: 'restart', numPeers: 2 }));
    r.arrive('1', BARRIER_RESTART_CONNECTED, b(''));
    expect(r.remove('2')).toEqual([BARRIER_RESTART_CONNECTED]);
  });

  it('never fails on a leave', () => {
    const r = new Round('restart', 1n);
    r.add('1', hello('1', { kind: 'restart', numPeers: 1 }));
    expect(r.leaveIsFatal).toBe(false);
  });
});

describe('resolveReplies', () => {
  const recs: BarrierRecord[] = ['1', '2', '3'].map((u) => ({ upid: u, payload: b(u), hello: hello(u) }));

  it('gives empty replies without a policy or when it returns nothing', () => {
    expect(resolveReplies(undefined, recs)).toEqual(Buffer.alloc(0));
    expect(resolveReplies(() => undefined, recs)).toEqual(Buffer.alloc(0));
  });

  it('passes a common reply through', () => {
    expect(resolveReplies(() => b('all'), recs).toString()).toBe('all');
  });

  it('fills the upids a map leaves out with empty replies', () => {
    const out = resolveReplies((rs) => new Map([[rs[1]!.upid, b('two')]]), recs) as Map<string, Buffer>;
    expect([...out].map(([k, v]) => [k, v.toString()])).toEqual([['1', ''], ['2', 'two'], ['3', '']]);
  });

  it('hands the policy every record with its hello', () => {
    let seen: BarrierRecord[] = [];
    resolveReplies((rs) => {
      seen = rs;
    }, recs);
    expect(seen.map((r) => `${r.upid}:${r.payload.toString()}:${r.hello.prog}`)).toEqual(['1:1:p1', '2:2:p2', '3:3:p3']);
  });

  it('rejects results of the wrong type', () => {
    expect(() => resolveReplies(() => 'x' as unknown as Buffer, recs)).toThrow(TypeError);
    expect(() => resolveReplies(() => new Map([['1', 'x' as unknown as Buffer]]), recs)).toThrow(/not a Buffer/);
  });

  it('lets a policy error escape to the caller', () => {
    expect(() => resolveReplies(() => {
      throw new Error('duplicate pid 42');
    }, recs)).toThrow('duplicate pid 42');
  });
});

describe('collectImages', () => {
  it('reads image paths, resolving relative ones, and reports bad records', () => {
    const recs: BarrierRecord[] = [
      { upid: '1', payload: b('{"image":"/a/ckpt_p_1.dmtcp","bytes":10,"frozen_ms":3}'), hello: hello('1') },
      { upid: '2', payload: b('{"image":"ckpt_p_2.dmtcp","bytes":0,"frozen_ms":0}'), hello: hello('2', { ckptdir: '/d/' }) },
      { upid: '3', payload: b('garbage'), hello: hello('3') },
      { upid: '4', payload: b('{}'), hello: hello('4') },
    ];
    const { images, problems } = collectImages(recs, (r) => r.hello.ckptdir);
    expect(images).toEqual([
      { upid: '1', image: '/a/ckpt_p_1.dmtcp', bytes: 10 },
      { upid: '2', image: '/d/ckpt_p_2.dmtcp', bytes: 0 },
    ]);
    expect(problems).toHaveLength(2);
    expect(problems).toEqual(['upid 3 (p3) sent a malformed ckpt:written record: not JSON', 'upid 4 (p4) sent a malformed ckpt:written record: no "image"']);
  });
});
