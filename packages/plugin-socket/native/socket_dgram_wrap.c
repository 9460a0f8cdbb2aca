/* The original sender of a message refilled at restart.  socket_dgram.c
 * puts a datagram socket's saved messages back into its kernel queue by
 * sending them from a stand-in socket, so they arrive with the
 * stand-in's address; until every one of them is read, read, recv,
 * recvfrom and recvmsg on that descriptor recognise the stand-in and give
 * the program the address the message had at checkpoint.  The messages
 * are at the head of the queue (sent before the program ran again), in
 * order.  Without a pending refill a call costs one load. */
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dmtcp/next.h"
#include "dmtcp/sys.h"
#include "socket_dgram.h"

#define DGRAM_WRAPPED(X) X(read) X(recv) X(recvfrom) X(recvmsg)
DMTCP_NEXT_TABLE(DGRAM_WRAPPED)

#define MAX_FIXES 64

static struct fix {
  int fd;
  uint64_t ino;
  struct sockaddr_storage standin;
  unsigned standin_len;
  struct socket_bytes names; /* [u32 len][name] per message, in order */
  size_t next;               /* offset of the next name */
  unsigned left;
  unsigned peeked;           /* DRAIN: stand-in messages seen in this scan */
} fixes[MAX_FIXES];
static int active;
static int lock_word;

static void lock(void) {
  while (__atomic_exchange_n(&lock_word, 1, __ATOMIC_ACQUIRE)) {
  }
}
static void unlock(void) { __atomic_store_n(&lock_word, 0, __ATOMIC_RELEASE); }

static void copy(void *d, const void *s, size_t n) {
  for (size_t i = 0; i < n; i++) ((char *)d)[i] = ((const char *)s)[i];
}

static void retire(struct fix *f) {
  socket_bytes_free(&f->names);
  f->left = 0;
  f->fd = -1;
  __atomic_fetch_sub(&active, 1, __ATOMIC_RELEASE);
}

void socket_dgram_fixes_reset(void) {
  for (int i = 0; i < MAX_FIXES; i++)
    if (fixes[i].left) retire(&fixes[i]);
  __atomic_store_n(&active, 0, __ATOMIC_RELEASE);
}

void socket_dgram_fix_add(int fd, uint64_t ino, const struct sockaddr_storage *standin, unsigned standin_len, const char *saved,
                          size_t saved_len, unsigned count) {
  struct fix *f = 0;
  for (int i = 0; i < MAX_FIXES && !f; i++)
    if (!fixes[i].left) f = &fixes[i];
  if (!f) {
    socket_log("fd %d: more than %d sockets refilled at once; its messages read with the refill's sender address", fd, MAX_FIXES);
    return;
  }
  long err = 0;
  size_t cap = saved_len + 4096;
  f->names.p = sys_mmap_anon(cap, &err);
  if (!f->names.p) return;
  f->names.cap = cap;
  f->names.len = 0;
  for (size_t off = 0; off < saved_len;) {
    uint32_t hdr[2];
    copy(hdr, saved + off, sizeof hdr);
    copy(f->names.p + f->names.len, &hdr[1], 4);
    copy(f->names.p + f->names.len + 4, saved + off + sizeof hdr, hdr[1]);
    f->names.len += 4 + hdr[1];
    off += sizeof hdr + hdr[1] + hdr[0];
  }
  f->fd = fd;
  f->ino = ino;
  copy(&f->standin, standin, standin_len);
  f->standin_len = standin_len;
  f->next = 0;
  f->peeked = 0;
  f->left = count;
  __atomic_fetch_add(&active, 1, __ATOMIC_RELEASE);
}

static struct fix *fix_of(int fd) {
  for (int i = 0; i < MAX_FIXES; i++)
    if (fixes[i].left && fixes[i].fd == fd) return &fixes[i];
  return 0;
}

static int is_standin(const struct fix *f, const struct sockaddr_storage *a, unsigned len) {
  if (len != f->standin_len) return 0;
  const char *x = (const char *)a, *y = (const char *)&f->standin;
  for (unsigned i = 0; i < len; i++)
    if (x[i] != y[i]) return 0;
  return 1;
}

/* The name `skip` entries after the next one. */
static const char *name_at(const struct fix *f, unsigned skip, unsigned *len) {
  size_t off = f->next;
  for (;;) {
    if (off + 4 > f->names.len) return 0;
    uint32_t l;
    copy(&l, f->names.p + off, 4);
    if (skip-- == 0) {
      *len = l;
      return f->names.p + off + 4;
    }
    off += 4 + l;
  }
}

int socket_dgram_fix_peek(int fd, unsigned k, const struct sockaddr_storage *from, unsigned fromlen, const char **name,
                          unsigned *namelen) {
  struct fix *f = fix_of(fd);
  if (!f) return 0;
  if (k == 0) f->peeked = 0;
  if (!is_standin(f, from, fromlen) || f->peeked >= f->left) return 0;
  const char *n = name_at(f, f->peeked, namelen);
  if (!n) return 0;
  f->peeked++;
  *name = n;
  return 1;
}

/* After a message was received on fd from `got`: the name the program
 * is given, into name/namelen (either may be null). */
static void give_name(struct fix *f, int peek, const struct sockaddr_storage *got, unsigned gotlen, void *name, socklen_t *namelen) {
  struct sockaddr_storage orig;
  const char *src = (const char *)got;
  unsigned len = gotlen;
  lock();
  int ours = f->left && is_standin(f, got, gotlen);
  if (ours) {
    unsigned entry = 0;
    const char *n = name_at(f, 0, &entry);
    len = entry;
    if (n && len <= sizeof orig) {
      /* Copied out: the last name's memory goes with its entry. */
      copy(&orig, n, len);
      src = (const char *)&orig;
    } else {
      len = gotlen;
    }
    if (!peek) {
      f->next += 4 + (n ? entry : 0);
      if (--f->left == 0) retire(f);
    }
  }
  unlock();
  if (name && namelen) {
    copy(name, src, len < *namelen ? len : *namelen);
    *namelen = len;
  } else if (namelen) {
    *namelen = len;
  }
}

/* The fix of fd if fd is still the socket it was made for. */
static struct fix *pending(int fd) {
  if (__builtin_expect(__atomic_load_n(&active, __ATOMIC_ACQUIRE) == 0, 1)) return 0;
  struct fix *f = fix_of(fd);
  if (!f) return 0;
  struct stat st;
  if (sys_fstat(fd, &st) < 0 || (uint64_t)st.st_ino != f->ino) {
    lock();
    if (f->left) retire(f);
    unlock();
    return 0;
  }
  return f;
}

static ssize_t recv_fixed(struct fix *f, int fd, void *buf, size_t n, int flags, struct sockaddr *name, socklen_t *namelen) {
  struct sockaddr_storage got;
  socklen_t gotlen = sizeof got;
  ssize_t r = DMTCP_NEXT(recvfrom)(fd, buf, n, flags, (struct sockaddr *)&got, &gotlen);
  if (r >= 0) give_name(f, flags & MSG_PEEK, &got, gotlen, name, namelen);
  return r;
}

DMTCP_EXPORT ssize_t read(int fd, void *buf, size_t n) {
  struct fix *f = pending(fd);
  if (!f) return DMTCP_NEXT(read)(fd, buf, n);
  return recv_fixed(f, fd, buf, n, 0, 0, 0);
}

DMTCP_EXPORT ssize_t recv(int fd, void *buf, size_t n, int flags) {
  struct fix *f = pending(fd);
  if (!f) return DMTCP_NEXT(recv)(fd, buf, n, flags);
  return recv_fixed(f, fd, buf, n, flags, 0, 0);
}

DMTCP_EXPORT ssize_t recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *name, socklen_t *namelen) {
  struct fix *f = pending(fd);
  if (!f) return DMTCP_NEXT(recvfrom)(fd, buf, n, flags, name, namelen);
  return recv_fixed(f, fd, buf, n, flags, name, namelen);
}

DMTCP_EXPORT ssize_t recvmsg(int fd, struct msghdr *m, int flags) {
  struct fix *f = pending(fd);
  if (!f) return DMTCP_NEXT(recvmsg)(fd, m, flags);
  struct sockaddr_storage got;
  void *name = m->msg_name;
  socklen_t namelen = m->msg_namelen;
  m->msg_name = &got;
  m->msg_namelen = sizeof got;
  ssize_t r = DMTCP_NEXT(recvmsg)(fd, m, flags);
  unsigned gotlen = m->msg_namelen;
  m->msg_name = name;
  m->msg_namelen = namelen;
  if (r >= 0) {
    give_name(f, flags & MSG_PEEK, &got, gotlen, name, name ? &m->msg_namelen : 0);
  }
  return r;
}
