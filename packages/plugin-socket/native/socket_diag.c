/* The peer of a Unix socket: the kernel tells it through sock_diag (the
 * netlink interface behind `ss -x`), to any process, for one inode at a
 * time.  Raw system calls and a stack buffer: safe at checkpoint time. */
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <sys/socket.h>

#include "dmtcp/sys.h"
#include "socket_plugin.h"

uint64_t socket_unix_peer(uint64_t ino) {
  long nl = sys_socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (nl < 0) return 0;
  struct {
    struct nlmsghdr h;
    struct unix_diag_req r;
  } req = {
      .h = {.nlmsg_len = sizeof req, .nlmsg_type = SOCK_DIAG_BY_FAMILY, .nlmsg_flags = NLM_F_REQUEST, .nlmsg_seq = 1},
      .r = {.sdiag_family = AF_UNIX, .udiag_states = ~0u, .udiag_ino = (unsigned)ino, .udiag_show = UDIAG_SHOW_PEER,
            .udiag_cookie = {~0u, ~0u}},
  };
  uint64_t peer = 0;
  char buf[1024] __attribute__((aligned(8)));
  if (sys_sendmsg((int)nl, &(struct msghdr){.msg_iov = &(struct iovec){&req, sizeof req}, .msg_iovlen = 1}, 0) < 0) goto out;
  long n = socket_sys_recvfrom((int)nl, buf, sizeof buf, 0);
  if (n < (long)(NLMSG_HDRLEN + sizeof(struct unix_diag_msg))) goto out;
  const struct nlmsghdr *h = (const struct nlmsghdr *)buf;
  if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY || h->nlmsg_len > (unsigned)n) goto out;
  const struct unix_diag_msg *m = NLMSG_DATA(h);
  if (m->udiag_ino != (unsigned)ino) goto out;
  /* Attributes follow the message, each a struct nlattr, 4-byte aligned. */
  size_t off = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof *m);
  while (off + sizeof(struct nlattr) <= h->nlmsg_len) {
    const struct nlattr *a = (const struct nlattr *)(buf + off);
    if (a->nla_len < sizeof *a || off + a->nla_len > h->nlmsg_len) break;
    if (a->nla_type == UNIX_DIAG_PEER && a->nla_len >= NLA_HDRLEN + 4) {
      peer = *(const uint32_t *)((const char *)a + NLA_HDRLEN);
      break;
    }
    off += NLA_ALIGN(a->nla_len);
  }
out:
  sys_close((int)nl);
  return peer;
}
