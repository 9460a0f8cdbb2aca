/* Restoring the checkpointed pids: the processes of a restart are made in a
 * pid namespace of their own (and a user namespace, without root), each
 * with clone3(set_tid) asking for its old pid, under a small init that
 * reaps them. */
#ifndef DMTCP_RESTART_PIDNS_H
#define DMTCP_RESTART_PIDNS_H

/* Enters new namespaces and forks their init.  Returns 1 in the init (pid 1
 * of the new namespace), 0 when the namespaces could not be made (a line on
 * stderr says why; the restart goes on with new pids).  The calling process
 * stays outside, waits for the init, and exits with its status. */
int pidns_enter(void);

/* A new process with pid `want` in the namespace, like fork(); a plain fork
 * (and a line on stderr) when that pid cannot be had. */
long pidns_fork(long want);

/* The init's life once the restored processes exist: reap every process of
 * the namespace, orphans included, and exit with the status of `first`. */
__attribute__((noreturn)) void pidns_init_loop(long first);

#endif
