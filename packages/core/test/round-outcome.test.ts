import { describe, expect, it } from 'vitest';
import { resumedProblem, writtenOutcome } from '../src/coordinator/round-outcome.ts';
import type { BarrierRecord, HelloInfo } from '../src/coordinator/types.ts';

const hello = (prog: string): HelloInfo => ({
  kind: 'launch', upid: '', pid: 1, ppid: 0, host: 'h', prog, argv: [], ckptdir: '/ck', plugins: [], parentUpid: null,
  numPeers: 0, image: null, interval: 0, fields: {},
});
const r = (upid: string, prog: string, o: unknown): BarrierRecord => ({ upid, hello: hello(prog), payload: Buffer.from(typeof o === 'string' ? o : JSON.stringify(o)) });

/** A ckpt:written record as the runtime sends it: every required field. */
const w = (o: object): object => ({ bytes: 0, frozen_ms: 1, ...o });

describe('writtenOutcome', () => {
  it('completes when every image was written', () => {
    const out = writtenOutcome([r('1', 'a', w({ image: 'ckpt_a.dmtcp', bytes: 5 })), r('2', 'b', w({ image: '/x/ckpt_b.dmtcp' }))], (x) => x.hello.ckptdir);
    expect(out).toEqual({ ok: true, problems: [], images: [{ upid: '1', image: '/ck/ckpt_a.dmtcp', bytes: 5 }, { upid: '2', image: '/x/ckpt_b.dmtcp', bytes: 0 }] });
  });
  it('fails on any error, naming each temp image and its errno text', () => {
    const out = writtenOutcome([
      r('1', 'a', w({ image: '/ck/ckpt_a.dmtcp', tmp: '/ck/ckpt_a.dmtcp.tmp', error: 'Read-only file system', errno: 30 })),
      r('2', 'b', w({ image: '/ck/ckpt_b.dmtcp' })),
      r('3', 'c', w({ image: '/ck/ckpt_c.dmtcp', error: 'File too large' })),
    ], () => '/');
    expect(out).toMatchObject({ ok: false, reason: 'ckpt_a.dmtcp.tmp: Read-only file system; ckpt_c.dmtcp.tmp: File too large' });
  });
  it('an error without an image name names the process', () => {
    expect(writtenOutcome([r('7', 'a', w({ image: '', error: 'x' }))], () => '/')).toMatchObject({ ok: false, reason: 'a (upid 7): x' });
  });
  it('a malformed record is a problem, not a failure', () => {
    expect(writtenOutcome([r('1', 'a', '{'), r('2', 'b', w({ image: 'i.dmtcp' }))], () => '/d')).toMatchObject({
      ok: true, problems: ['upid 1 (a) sent a malformed ckpt:written record: not JSON'], images: [{ upid: '2', image: '/d/i.dmtcp', bytes: 0 }],
    });
  });
  it('refuses a record without a required field or with one of the wrong type, and says which', () => {
    const out = writtenOutcome([
      r('1', 'a', { image: 'a.dmtcp', frozen_ms: 1 }),
      r('2', 'b', w({ image: 'b.dmtcp', bytes: '12' })),
      r('3', 'c', w({ image: 'c.dmtcp', bytes: -1 })),
      r('4', 'd', w({ image: 7 })),
      // A failure whose record is malformed cannot be read either: reported, as any malformed record.
      r('5', 'e', w({ image: 'e.dmtcp', error: 'x', errno: 'EIO' })),
    ], () => '/d');
    expect(out).toEqual({ ok: true, images: [], problems: [
      'upid 1 (a) sent a malformed ckpt:written record: no "bytes"',
      'upid 2 (b) sent a malformed ckpt:written record: "bytes" is not a uint: "12"',
      'upid 3 (c) sent a malformed ckpt:written record: "bytes" is not a uint: -1',
      'upid 4 (d) sent a malformed ckpt:written record: "image" is not a string: 7',
      'upid 5 (e) sent a malformed ckpt:written record: "errno" is not a uint: "EIO"',
    ] });
  });
  it('ignores keys the record list does not declare', () => {
    expect(writtenOutcome([r('1', 'a', w({ image: 'a.dmtcp', later: { x: 1 } }))], () => '/d')).toMatchObject({ ok: true, problems: [] });
  });
});

describe('resumedProblem', () => {
  it('is null when every rename went through', () => {
    expect(resumedProblem([r('1', 'a', ''), r('2', 'b', {})])).toBeNull();
  });
  it('names the processes whose rename failed', () => {
    expect(resumedProblem([r('1', 'a', { error: 'cannot rename t: EIO' })])).toBe('incomplete, the images are a mixed set: a (upid 1): cannot rename t: EIO');
  });
});
