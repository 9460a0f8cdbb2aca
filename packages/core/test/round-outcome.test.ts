import { describe, expect, it } from 'vitest';
import { resumedProblem, writtenOutcome } from '../src/coordinator/round-outcome.ts';
import type { BarrierRecord, HelloInfo } from '../src/coordinator/types.ts';

const hello = (prog: string): HelloInfo => ({
  kind: 'launch', upid: '', pid: 1, ppid: 0, host: 'h', prog, argv: [], ckptdir: '/ck', plugins: [], parentUpid: null,
  numPeers: 0, image: null, interval: 0, fields: {},
});
const r = (upid: string, prog: string, o: unknown): BarrierRecord => ({ upid, hello: hello(prog), payload: Buffer.from(typeof o === 'string' ? o : JSON.stringify(o)) });

describe('writtenOutcome', () => {
  it('completes when every image was written', () => {
    const out = writtenOutcome([r('1', 'a', { image: 'ckpt_a.dmtcp', bytes: 5 }), r('2', 'b', { image: '/x/ckpt_b.dmtcp' })], (x) => x.hello.ckptdir);
    expect(out).toEqual({ ok: true, problems: [], images: [{ upid: '1', image: '/ck/ckpt_a.dmtcp', bytes: 5 }, { upid: '2', image: '/x/ckpt_b.dmtcp', bytes: 0 }] });
  });
  it('fails on any error, naming each temp image and its errno text', () => {
    const out = writtenOutcome([
      r('1', 'a', { image: '/ck/ckpt_a.dmtcp', tmp: '/ck/ckpt_a.dmtcp.tmp', error: 'Read-only file system' }),
      r('2', 'b', { image: '/ck/ckpt_b.dmtcp' }),
      r('3', 'c', { image: '/ck/ckpt_c.dmtcp', error: 'File too large' }),
    ], () => '/');
    expect(out).toMatchObject({ ok: false, reason: 'ckpt_a.dmtcp.tmp: Read-only file system; ckpt_c.dmtcp.tmp: File too large' });
  });
  it('an error without an image name names the process', () => {
    expect(writtenOutcome([r('7', 'a', { error: 'x' })], () => '/')).toMatchObject({ ok: false, reason: 'a (upid 7): x' });
  });
  it('a malformed record is a problem, not a failure', () => {
    expect(writtenOutcome([r('1', 'a', '{'), r('2', 'b', { image: 'i.dmtcp' })], () => '/d')).toMatchObject({ ok: true, problems: ['upid 1 (a) sent a malformed ckpt:written record'] });
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
