// Whether a restart can give its processes their checkpointed pids back (a
// pid namespace of its own, clone3 with set_tid) or keeps the new ones the
// kernel hands out (what the pid plugin then virtualizes). Pure.

export interface PidModeProcess {
  pid: number;
  host: string;
}

export interface PidModeHost {
  /** The restarting user: root needs no user namespace. */
  euid: number;
  /** Why an unprivileged user cannot make user namespaces here, or null. */
  userNamespacesOff: string | null;
}

export type PidMode = { mode: 'restore' } | { mode: 'virtual'; reason: string };

export function choosePidMode(procs: readonly PidModeProcess[], host: PidModeHost): PidMode {
  const seen = new Map<number, string>();
  for (const p of procs) {
    if (p.pid <= 1) return { mode: 'virtual', reason: `pid ${p.pid} cannot be restored (pid 1 is the namespace's init)` };
    const other = seen.get(p.pid);
    if (other !== undefined) {
      return {
        mode: 'virtual',
        reason: `pid ${p.pid} is in two images (${other} and ${p.host}: checkpointed in several pid namespaces)`,
      };
    }
    seen.set(p.pid, p.host);
  }
  if (host.euid !== 0 && host.userNamespacesOff !== null) {
    return { mode: 'virtual', reason: `an unprivileged user needs a user namespace, and ${host.userNamespacesOff}` };
  }
  return { mode: 'restore' };
}
