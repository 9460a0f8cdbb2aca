/* Netlink sockets (the NETLINK_ROUTE socket libc's getaddrinfo and
 * if_nameindex use, or one a program keeps): made again with the same
 * type and protocol and bound to the multicast groups it had, so that the
 * program's next request is answered.  The kernel gives the new socket a
 * new port id; a program that bound an explicit nl_pid gets that one
 * again when it is free.  Requests in flight at checkpoint and their
 * replies are lost: the program's next request gets a reply, with its own
 * sequence number (the kernel echoes what it is sent). */
#include <linux/netlink.h>

#include "dmtcp/sys.h"
#include "socket_plugin.h"

/* Checkpoint: a port id the kernel chose (autobind: the pid, or a
 * negative number when that is taken) is forgotten, so that restart lets
 * the kernel choose again; only one the program bound is kept. */
void socket_netlink_scan(struct socket_rec *r) {
  if (r->addrlen < sizeof(struct sockaddr_nl)) return;
  struct sockaddr_nl *nl = (struct sockaddr_nl *)&r->addr;
  if ((long)nl->nl_pid == sys_getpid() || (nl->nl_pid & 0x80000000u)) nl->nl_pid = 0;
}

long socket_netlink_make(const struct socket_rec *r) {
  long s = sys_socket(AF_NETLINK, r->type | SOCK_CLOEXEC, r->protocol);
  if (s < 0) return s;
  struct sockaddr_nl nl = {.nl_family = AF_NETLINK};
  if (r->addrlen >= sizeof nl) {
    const struct sockaddr_nl *old = (const struct sockaddr_nl *)&r->addr;
    nl.nl_groups = old->nl_groups;
    nl.nl_pid = old->nl_pid;
  }
  long e = sys_bind((int)s, &nl, sizeof nl);
  if (e < 0 && nl.nl_pid) {
    nl.nl_pid = 0; /* taken by another socket: any port will answer */
    e = sys_bind((int)s, &nl, sizeof nl);
  }
  if (e < 0) {
    sys_close((int)s);
    return e;
  }
  return s;
}
