/* Pseudo-terminals the application made (posix_openpt, openpty): their
 * number, settings and pairing at checkpoint; the bytes waiting in either
 * direction; a fresh pair with the same settings at restart.
 *
 * The termios ioctls on a master act on its slave, so the master alone
 * reads and sets the settings the application sees.  Bytes written to the
 * master that the slave has not read went through the slave's input
 * processing (echo, signals, CR/NL mapping) once already, and bytes the
 * slave wrote went through its output processing (NL to CR NL): both go
 * back with that processing switched off for the moment, so that nothing
 * is echoed or mapped twice. */
#define _GNU_SOURCE
#include <asm/ioctls.h>
#include <asm/termbits.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/sysmacros.h>

#include "file_plugin.h"
#include "dmtcp/sys.h"

#define PTY_MAJOR_FIRST 136
#define PTY_MAJOR_LAST 143
/* Bytes kept of each direction of a pseudo-terminal. */
#define PTY_DRAIN_CAP (128 * 1024)

struct pollfd_k {
  int fd;
  short events, revents;
};

static int get_termios(int fd, struct termios *t) { return sys_ioctl(fd, TCGETS, t) == 0; }
static void set_termios(int fd, const struct termios *t) { sys_ioctl(fd, TCSETS, (void *)t); }

/* Our session and controlling terminal from /proc/self/stat: whether the
 * terminal with device number rdev is the one this process's session
 * leads. */
static int leads_session_on(uint64_t rdev) {
  char buf[512];
  long fd = sys_open("/proc/self/stat", O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0) return 0;
  long n = sys_read((int)fd, buf, sizeof buf - 1);
  sys_close((int)fd);
  if (n <= 0) return 0;
  buf[n] = 0;
  const char *p = buf;
  uint64_t pid = 0;
  fmt_parse_dec(p, (size_t)-1, &pid);
  const char *close_paren = NULL;
  for (const char *q = buf; *q; q++)
    if (*q == ')') close_paren = q;
  if (!close_paren) return 0;
  p = close_paren + 1;
  /* state ppid pgrp session tty_nr */
  long fields[5] = {0};
  for (int f = 0; f < 5; f++) {
    while (*p == ' ') p++;
    if (f == 0) {
      while (*p && *p != ' ') p++;
      continue;
    }
    int64_t v = 0;
    long n = fmt_parse_i64(p, (size_t)-1, &v);
    if (n > 0) p += n;
    fields[f] = (long)v;
  }
  unsigned long tty = (unsigned long)fields[4];
  unsigned maj = (unsigned)((tty >> 8) & 0xfff);
  unsigned min = (unsigned)((tty & 0xff) | ((tty >> 12) & 0xfff00));
  return fields[3] == (long)pid && tty != 0 && maj == major(rdev) && min == minor(rdev);
}

static void pty_describe(struct file_rec *r) {
  if (r->kind == FK_PTMX) {
    unsigned idx = 0;
    int locked = 0;
    if (sys_ioctl(r->fd, TIOCGPTN, &idx) == 0) r->pty_index = (int)idx;
    if (sys_ioctl(r->fd, TIOCGPTLCK, &locked) == 0) r->pty_locked = locked != 0;
    if (sys_ioctl(r->fd, TCGETS, r->termios) == 0) r->has_termios = 1;
  } else if (r->kind == FK_TTY) {
    unsigned maj = major(r->rdev);
    if (maj >= PTY_MAJOR_FIRST && maj <= PTY_MAJOR_LAST)
      r->pty_index = (int)((maj - PTY_MAJOR_FIRST) * 256 + minor(r->rdev));
    if (r->pty_index >= 0) r->ctty = leads_session_on(r->rdev);
  }
  if (r->pty_index >= 0 && sys_ioctl(r->fd, TIOCGWINSZ, r->winsize) == 0) r->has_winsize = 1;
}

static long file_pty_open_slave(int master, int flags) {
  long fd = sys_ioctl(master, TIOCGPTPEER, (void *)(long)(flags | O_NOCTTY | O_CLOEXEC));
  if (fd >= 0 || fd == -EIO) return fd;
  /* Kernels before 4.13: by name, in the devpts the master came from. */
  unsigned idx;
  if (sys_ioctl(master, TIOCGPTN, &idx) < 0) return fd;
  char path[32];
  struct sbuf b;
  sb_init(&b, path, sizeof path);
  sb_format(&b, "/dev/pts/%u", idx);
  return sys_open(path, flags | O_NOCTTY | O_CLOEXEC, 0);
}

static size_t read_nonblocking(int fd, unsigned char *dst, size_t cap) {
  size_t got = 0;
  while (got < cap) {
    long n = sys_read(fd, dst + got, cap - got);
    if (n == -EINTR) continue;
    if (n <= 0) break;
    got += (size_t)n;
  }
  return got;
}

/* Room for both directions: what the slave wrote (drain), what the master
 * wrote (drain2). */
static size_t ptmx_drain_cap(const struct file_rec *r) {
  (void)r;
  return 2 * PTY_DRAIN_CAP;
}

static void ptmx_drain(struct file_table *t, struct file_rec *r) {
  size_t cap_each = PTY_DRAIN_CAP;
  r->drain2_off = r->drain_off + cap_each;
  /* Input first: the slave's line discipline may still have bytes to
   * process, and processing them can echo into the other direction. */
  long slave = file_pty_open_slave(r->fd, O_RDWR | O_NONBLOCK);
  if (slave >= 0) {
    struct termios saved, raw;
    if (get_termios((int)slave, &saved)) {
      /* Out of canonical mode every byte is readable, a partial line too. */
      raw = saved;
      raw.c_lflag &= ~(tcflag_t)ICANON;
      raw.c_cc[VMIN] = 1;
      raw.c_cc[VTIME] = 0;
      set_termios((int)slave, &raw);
      r->drain2_len = read_nonblocking((int)slave, t->drain + r->drain2_off, cap_each);
      set_termios((int)slave, &saved);
    }
    sys_close((int)slave);
  } else if (!r->pty_locked) {
    file_debug("fd %d (pty %d): cannot open its slave (%s); input not yet read stays in it", r->fd, r->pty_index,
               file_errno_name(slave));
  }
  long fl = sys_fcntl(r->fd, F_GETFL, 0);
  if (fl >= 0) {
    sys_fcntl(r->fd, F_SETFL, fl | O_NONBLOCK);
    r->drain_len = read_nonblocking(r->fd, t->drain + r->drain_off, cap_each);
    sys_fcntl(r->fd, F_SETFL, fl);
  }
  file_debug("fd %d (pty %d): drained %lu bytes of input and %lu of output", r->fd, r->pty_index,
             (unsigned long)r->drain2_len, (unsigned long)r->drain_len);
}

static size_t write_some(int fd, const unsigned char *p, size_t n) {
  size_t done = 0;
  int spins = 0;
  while (done < n) {
    long w = sys_write(fd, p + done, n - done);
    if (w == -EINTR) continue;
    if (w == -EAGAIN && spins++ < 200) {
      sys_nanosleep_ms(1);
      continue;
    }
    if (w <= 0) break;
    done += (size_t)w;
  }
  return done;
}

static void ptmx_refill(struct file_table *t, struct file_rec *r) {
  if (!r->drain_len && !r->drain2_len) return;
  struct termios saved;
  if (!get_termios(r->fd, &saved)) {
    file_log("fd %d (pty %d): not a terminal any more; %lu buffered bytes are lost", r->fd, r->pty_index,
             (unsigned long)(r->drain_len + r->drain2_len));
    return;
  }
  long slave = file_pty_open_slave(r->fd, O_RDWR | O_NONBLOCK);
  long fl = sys_fcntl(r->fd, F_GETFL, 0);
  size_t in_done = 0, out_done = 0;
  if (r->drain2_len) {
    struct termios quiet = saved;
    quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK | ECHONL | ISIG | IEXTEN);
    quiet.c_iflag &= ~(tcflag_t)(ICRNL | INLCR | IGNCR | IUCLC | ISTRIP | IXON);
    set_termios(r->fd, &quiet);
    sys_fcntl(r->fd, F_SETFL, fl | O_NONBLOCK);
    in_done = write_some(r->fd, t->drain + r->drain2_off, r->drain2_len);
    sys_fcntl(r->fd, F_SETFL, fl);
    /* The slave's line discipline takes bytes in from a kernel worker;
     * polling the slave waits for it, so that the settings change back only
     * once they went through the quiet ones. */
    if (slave >= 0) {
      struct pollfd_k pfd = {(int)slave, 1 /* POLLIN */, 0};
      sys_poll(&pfd, 1, 0);
    } else {
      sys_nanosleep_ms(20);
    }
    set_termios(r->fd, &saved);
  }
  if (r->drain_len) {
    if (slave >= 0) {
      struct termios plain = saved;
      plain.c_oflag &= ~(tcflag_t)OPOST;
      set_termios(r->fd, &plain);
      out_done = write_some((int)slave, t->drain + r->drain_off, r->drain_len);
      set_termios(r->fd, &saved);
    }
  }
  if (slave >= 0) sys_close((int)slave);
  if (in_done < r->drain2_len || out_done < r->drain_len)
    file_log("fd %d (pty %d): %lu of %lu buffered bytes could not be put back", r->fd, r->pty_index,
             (unsigned long)(r->drain2_len - in_done + r->drain_len - out_done),
             (unsigned long)(r->drain2_len + r->drain_len));
  else file_debug("fd %d (pty %d): refilled %lu bytes of input and %lu of output", r->fd, r->pty_index,
                  (unsigned long)in_done, (unsigned long)out_done);
}

static long file_pty_create(const struct file_rec *r) {
  long m = sys_open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC, 0);
  if (m < 0) m = sys_open("/dev/pts/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC, 0);
  if (m < 0) return m;
  if (!r->pty_locked) {
    int unlock = 0;
    sys_ioctl((int)m, TIOCSPTLCK, &unlock);
  }
  if (r->has_termios) {
    struct termios t;
    memcpy(&t, r->termios, sizeof t);
    set_termios((int)m, &t);
  }
  if (r->has_winsize) sys_ioctl((int)m, TIOCSWINSZ, (void *)r->winsize);
  return m;
}

/* ---- restart ---- */

static void apply_termios(struct file_restart *c, const struct file_rec *r, int fd) {
  if (c->termios_done || !r->has_termios) return;
  if (sys_ioctl(fd, SYS_TCSETS, (void *)r->termios) == 0) c->termios_done = 1;
}

/* A terminal this process restores alone: on 0-2 the restart's, in the
 * mode the program had put its old one in; above, a duplicate of it (or
 * /dev/tty). */
static int tty_restore(struct file_restart *c, size_t i) {
  struct file_rec *r = &c->t->recs[i];
  if (r->fd <= 2) {
    unsigned char probe[FILE_TERMIOS_CAP];
    if (sys_ioctl(r->fd, SYS_TCGETS, probe) == 0) apply_termios(c, r, r->fd);
    else file_debug("fd %d was terminal %s; keeping what the restart provides", r->fd, r->path);
    return FO_KEPT;
  }
  long fd = -1;
  if (c->term_src >= 0) fd = sys_fcntl(c->term_src, F_DUPFD_CLOEXEC, c->scratch_base);
  else if (strcmp(r->path, "/dev/tty") == 0) fd = sys_open("/dev/tty", file_reopen_flags(r->flags), 0);
  if (fd < 0) {
    file_log("fd %d was terminal %s, and this restart has no terminal; %s", r->fd, r->path, file_leave_note(r));
    return FO_FAILED;
  }
  if (file_install(fd, r) < 0) return FO_FAILED;
  apply_termios(c, r, r->fd);
  return FO_RESTORED;
}

/* A session leader whose controlling terminal was one of the application's
 * pseudo-terminals gets the new one as its controlling terminal. */
static void tty_after_restore(struct file_restart *c, struct file_rec *r) {
  if (c->ctty_done || !r->ctty || r->outcome != FO_RESTORED || r->role == SR_LOCAL) return;
  c->ctty_done = 1;
  long me = sys_getpid();
  if (sys_getsid(0) != me) {
    file_debug("fd %d: was the controlling terminal, but this process no longer leads its session", r->fd);
    return;
  }
  long rc = sys_ioctl(r->fd, TIOCSCTTY, 0);
  if (rc < 0) file_log("fd %d: cannot make it the controlling terminal again (%s)", r->fd, file_errno_name(rc));
}

/* The exchange: a new pair for every process holding an end. */
static long pty_create_object(struct file_restart *c, struct file_object *o) {
  const struct file_rec *rep = &c->t->recs[o->rep];
  /* Settings come from the master's record when there is one: it read them
   * with the master's view, which is the slave's. */
  for (size_t i = 0; i < c->t->nrecs; i++) {
    const struct file_rec *q = &c->t->recs[i];
    if (q->obj == rep->obj && q->kind == FK_PTMX) rep = q;
  }
  long m = file_pty_create(rep);
  if (m < 0) {
    file_log("fd %d: cannot make a new pseudo-terminal (%s)", rep->fd, file_errno_name(m));
    return m;
  }
  o->anchor[0] = file_park(m, c->scratch_base);
  return o->anchor[0] < 0 ? o->anchor[0] : 0;
}

static long pty_open_description(struct file_restart *c, const struct file_object *o, int kind, char mode) {
  if (kind == FK_PTMX) return sys_fcntl((int)o->anchor[0], F_DUPFD_CLOEXEC, c->scratch_base);
  return file_pty_open_slave((int)o->anchor[0], file_acc_of(mode) | O_NONBLOCK);
}

/* Without the coordinator's answer: recreated here when the master is here. */
static int pty_fallback_role(const struct file_table *t, const struct file_rec *r) {
  for (size_t i = 0; i < t->nrecs; i++)
    if (t->recs[i].obj == r->obj && t->recs[i].kind == FK_PTMX) return SR_LEAD;
  return SR_LOCAL;
}

/* Without the "file:drain" policy a master drains its pair alone. */
static int ptmx_drains_alone(const struct file_table *t, const struct file_rec *r) {
  (void)t;
  (void)r;
  return 1;
}

static char ptmx_share_kind(const struct file_rec *r) { return r->pty_index >= 0 ? 'm' : 0; }
static char tty_share_kind(const struct file_rec *r) { return r->pty_index >= 0 ? 's' : 0; }

/* A terminal: /dev/pts/N (the slave of a pseudo-terminal, shared with its
 * master's holder when that is in the computation), /dev/ttyN, /dev/tty,
 * /dev/console. */
const struct file_kind_ops file_tty_ops = {
    .name = "terminal",
    .describe = pty_describe,
    .share_kind = tty_share_kind,
    .on_std = tty_restore,
    .restore = tty_restore,
    .after_restore = tty_after_restore,
    .create_object = pty_create_object,
    .open_description = pty_open_description,
    .fallback_role = pty_fallback_role,
};

/* A master this process holds alone (no slave number known) is not
 * restored. */
const struct file_kind_ops file_ptmx_ops = {
    .name = "pseudo-terminal master",
    .describe = pty_describe,
    .share_kind = ptmx_share_kind,
    .drain_cap = ptmx_drain_cap,
    .drain = ptmx_drain,
    .drains_alone = ptmx_drains_alone,
    .refill = ptmx_refill,
    .std_stays = 1,
    .create_object = pty_create_object,
    .open_description = pty_open_description,
    .fallback_role = pty_fallback_role,
};
