// When a restart can restore the checkpointed pids, and why not otherwise.
import { describe, expect, test } from 'vitest';
import { choosePidMode } from '../src/image/pid-mode.ts';

const root = { euid: 0, userNamespacesOff: null };
const user = { euid: 1000, userNamespacesOff: null };

describe('choosePidMode', () => {
  test('distinct pids from one host: restore, for root and for a user with user namespaces', () => {
    const procs = [{ pid: 100, host: 'a' }, { pid: 101, host: 'a' }];
    expect(choosePidMode(procs, root)).toEqual({ mode: 'restore' });
    expect(choosePidMode(procs, user)).toEqual({ mode: 'restore' });
  });

  test('one pid in two images: virtual, naming both hosts', () => {
    const m = choosePidMode([{ pid: 7, host: 'a' }, { pid: 7, host: 'b' }], root);
    expect(m).toEqual({ mode: 'virtual', reason: 'pid 7 is in two images (a and b: checkpointed in several pid namespaces)' });
  });

  test('pid 1 cannot be had: the namespace needs its own init there', () => {
    expect(choosePidMode([{ pid: 1, host: 'a' }], root)).toMatchObject({ mode: 'virtual', reason: expect.stringContaining('pid 1') });
  });

  test('no user namespaces: virtual for a user, restore for root', () => {
    const off = 'user namespaces are disabled (/proc/sys/user/max_user_namespaces is 0)';
    const procs = [{ pid: 100, host: 'a' }];
    expect(choosePidMode(procs, { euid: 1000, userNamespacesOff: off })).toEqual({
      mode: 'virtual', reason: `an unprivileged user needs a user namespace, and ${off}`,
    });
    expect(choosePidMode(procs, { euid: 0, userNamespacesOff: off })).toEqual({ mode: 'restore' });
  });
});
