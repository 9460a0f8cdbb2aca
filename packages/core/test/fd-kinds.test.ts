import { describe, expect, it } from 'vitest';
import { decideFds, FD_KINDS, formatFds, formatNeeds, KIND_PLUGIN, NOTE_MAX, parseFdReport, unhandledFds } from '../src/coordinator/fd-kinds.ts';
import { readFileSync } from 'node:fs';

/** A ckpt:suspended record as the runtime sends it: every required field. */
const rec = (o: object): Buffer => Buffer.from(JSON.stringify({ image: '', strict: false, ...o }));

describe('parseFdReport', () => {
  it('reads the record, sorted by fd', () => {
    expect(parseFdReport(rec({ image: 'x.dmtcp', strict: true, fds: [[9, 'epoll'], [3, 'file']] }))).toEqual({
      image: 'x.dmtcp', strict: true, truncated: false, fds: [{ fd: 3, kind: 'file' }, { fd: 9, kind: 'epoll' }],
    });
  });
  it('gives null for no record or a malformed one', () => {
    expect(parseFdReport(Buffer.alloc(0))).toBeNull();
    expect(parseFdReport(Buffer.from('{'))).toBeNull();
    expect(parseFdReport(rec({ fds: [['3', 'file']] }))).toBeNull();
    expect(parseFdReport(rec({ fds: [[3]] }))).toBeNull();
    expect(parseFdReport(Buffer.from('[1]'))).toBeNull();
    // Every field of DMTCP_SUSPENDED_RECORD but "truncated" is required.
    expect(parseFdReport(Buffer.from('{"image":"x","fds":[]}'))).toBeNull();
    expect(parseFdReport(Buffer.from('{"image":"x","strict":false}'))).toBeNull();
    expect(parseFdReport(rec({ strict: 'yes', fds: [] }))).toBeNull();
  });
});

describe('unhandledFds', () => {
  const report = parseFdReport(rec({ fds: [[0, 'chr'], [1, 'socket'], [2, 'pipe'], [0, 'x'], [3, 'file'], [4, 'epoll'], [5, 'socket']] }))!;
  it('leaves out what the plugins restore and what the restart provides on 0-2', () => {
    expect(unhandledFds(report, new Set(['file']))).toEqual([{ fd: 0, kind: 'x' }, { fd: 4, kind: 'epoll' }, { fd: 5, kind: 'socket' }]);
  });
  it('an epoll set on 0-2 is not something the restart provides', () => {
    expect(unhandledFds(parseFdReport(rec({ fds: [[2, 'epoll']] }))!, new Set())).toEqual([{ fd: 2, kind: 'epoll' }]);
  });
});

describe('formatting', () => {
  it('joins runs of one kind and counts what does not fit', () => {
    const fds = [3, 4, 5, 7].map((fd) => ({ fd, kind: 'socket' })).concat([{ fd: 8, kind: 'epoll' }]);
    expect(formatFds(fds)).toBe('fd 3-5 (socket), fd 7 (socket), fd 8 (epoll)');
    expect(formatFds(fds, 1)).toBe('fd 3-5 (socket), 2 more');
  });
  it('names the plugin each kind needs, or that none exists', () => {
    expect(formatNeeds([{ fd: 1, kind: 'socket' }, { fd: 2, kind: 'inotify' }, { fd: 3, kind: 'signalfd' }])).toBe('need plugin-event, plugin-socket');
    expect(formatNeeds([{ fd: 1, kind: 'timerfd' }, { fd: 2, kind: 'pidfd' }, { fd: 3, kind: 'io_uring' }])).toBe('need plugin-timer; no plugin restores io_uring, pidfd');
  });
  it('every kind with a plugin is a kind the runtime reports', () => {
    for (const k of Object.keys(KIND_PLUGIN)) expect(FD_KINDS).toContain(k);
  });
  it('the runtime reports only the kinds protocol.h lists', () => {
    const c = readFileSync(new URL('../native/runtime/fdlist.c', import.meta.url), 'utf8');
    const used = [...c.matchAll(/(?:return|, ) ?"([a-z_]+)"(?:;|\})/g)].map((m) => m[1]);
    expect(used.length).toBeGreaterThan(15);
    for (const k of used) expect(FD_KINDS, k).toContain(k);
  });
});

describe('decideFds', () => {
  const handled = new Set(['file', 'pipe']);
  it('one warning per process, a note for its restart, no refusal unless strict', () => {
    const d = decideFds([
      { upid: '1', label: 'a (pid 1)', handled, payload: rec({ image: 'ckpt_a.dmtcp', fds: [[3, 'file'], [4, 'eventfd']] }) },
      { upid: '2', label: 'b (pid 2)', handled, payload: rec({ image: 'ckpt_b.dmtcp', fds: [[3, 'pipe']] }) },
      { upid: '3', label: 'c (pid 3)', handled, payload: Buffer.alloc(0) },
    ]);
    expect(d.warnings).toEqual([{ upid: '1', line: 'ckpt_a.dmtcp: fd 4 (eventfd) will not be restored: need plugin-event' }]);
    expect([...d.notes]).toEqual([['1', 'ckpt_a.dmtcp: fd 4 (eventfd) was not restored (need plugin-event); the program fails if it uses it']]);
    expect(d.refusal).toBeNull();
  });
  it('refuses when a strict process would lose a descriptor, and names it', () => {
    const d = decideFds([
      { upid: '1', label: 'a (pid 1)', handled, payload: rec({ strict: true, fds: [[7, 'socket']], truncated: true }) },
      { upid: '2', label: 'b (pid 2)', handled, payload: rec({ strict: true, fds: [[3, 'file']] }) },
    ]);
    expect(d.refusal).toBe('--strict: a (pid 1): fd 7 (socket) (list cut short) will not be restored: need plugin-socket');
  });
  it('keeps the note within what the runtime holds', () => {
    const fds = Array.from({ length: 400 }, (_, i) => [3 + 2 * i, i % 2 ? 'socket' : 'epoll']);
    const d = decideFds([{ upid: '1', label: 'a', handled, payload: rec({ image: 'x'.repeat(2000), fds }) }]);
    expect(d.notes.get('1')!.length).toBeLessThanOrEqual(NOTE_MAX);
    expect(d.warnings[0]!.line).toMatch(/, 388 more will not be restored/);
  });
});
