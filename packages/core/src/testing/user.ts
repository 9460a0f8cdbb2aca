// Running a command as an unprivileged user. As root we drop to the given ids
// with setpriv (which execs, so the pid we spawn is the target's pid); when
// the tests already run unprivileged there is nothing to drop.
import { existsSync } from 'node:fs';

export interface UserIds {
  uid: number;
  gid: number;
}

/** 'nobody' is uid/gid 65534 on Debian and most distributions. */
export type RunAs = 'nobody' | UserIds;

export const NOBODY: UserIds = { uid: 65534, gid: 65534 };

export function resolveUser(user: RunAs): UserIds {
  return user === 'nobody' ? NOBODY : user;
}

function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

function findSetpriv(): string | undefined {
  for (const dir of ['/usr/bin', '/bin', '/usr/sbin', '/sbin']) {
    const file = `${dir}/setpriv`;
    if (existsSync(file)) return file;
  }
  return undefined;
}

/**
 * The argv prefix that makes the rest of the command run as `user`; empty
 * when no switch is possible or needed because we are not root.
 */
export function userArgv(user: RunAs | undefined): string[] {
  if (user === undefined || !isRoot()) return [];
  const ids = resolveUser(user);
  const setpriv = findSetpriv();
  if (setpriv === undefined) throw new Error('running as another user needs setpriv (util-linux), which is not installed');
  return [setpriv, `--reuid=${ids.uid}`, `--regid=${ids.gid}`, '--clear-groups'];
}

/** The uid a command started with userArgv(user) will have. */
export function effectiveUid(user: RunAs | undefined): number {
  const self = typeof process.getuid === 'function' ? process.getuid() : -1;
  if (user === undefined || !isRoot()) return self;
  return resolveUser(user).uid;
}
