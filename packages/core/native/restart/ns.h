/* What the namespaces a restart makes (pidns.c, timens.c) share. */
#ifndef DMTCP_RESTART_NS_H
#define DMTCP_RESTART_NS_H

/* "dmtcp restart: A B (errno E)" on stderr; b may be NULL, err 0. */
void ns_say(const char *a, const char *b, long err);

/* Writes text to an existing file; 0 or -errno. */
long ns_write_file(const char *path, const char *text);

/* Writes v at p in decimal (room for 20 digits, a '-' for negative values),
 * returns the end. */
char *ns_put_dec(char *p, long v);

/* For an unprivileged user, once: a user namespace that maps the user and
 * group to themselves, so that the restored processes keep their ids and
 * may make the other namespaces.  0 (also for root, who needs none) or
 * -errno, with a line saying which step failed and what `then` is. */
long ns_enter_user(const char *then);

#endif
