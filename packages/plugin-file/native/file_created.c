/* Which descriptors the program opened with O_CREAT.  The kernel forgets
 * open-time flags (F_GETFL never shows O_CREAT), yet they decide whether a
 * file that vanished before a restart may be made again: a program that
 * passed O_CREAT was ready to create it itself.  The wrappers below mark
 * the descriptor with the inode it was opened on; the mark counts only while
 * the descriptor still names that inode, so a number closed and reused by a
 * call these wrappers do not see (dup2, a raw system call) loses it.
 *
 * The marks live in this library's data, which the image captures: they
 * survive a checkpoint and are copied into a child by fork.  They do not
 * survive exec (a file the shell opened for `exec prog > out` is not known
 * to be the program's own). */
#define _GNU_SOURCE
/* The wrappers define open() itself: no fortified inline versions here. */
#undef _FORTIFY_SOURCE
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "dmtcp/next.h"
#include "dmtcp/plugin.h"
#include "dmtcp/sys.h"
#include "file_plugin.h"

#define FILE_EXPORT DMTCP_EXPORT

#define CREATED_WRAPPED(X) \
  X(open) X(open64) X(openat) X(openat64) X(creat) X(creat64) X(fopen) X(fopen64) X(freopen) X(freopen64)
DMTCP_NEXT_TABLE(CREATED_WRAPPED)

struct created_mark {
  uint64_t dev;
  uint64_t ino; /* 0: no mark (no file has inode 0) */
};

/* Indexed by descriptor number.  Pages nobody wrote are never populated, so
 * the table costs memory (and image space) only around the numbers used. */
static struct created_mark marks[FILE_CREATED_FDS];

void file_created_note(int fd, int created) {
  if (fd < 0 || fd >= FILE_CREATED_FDS) return;
  struct created_mark *m = &marks[fd];
  if (!created) {
    if (m->ino) m->ino = 0;
    return;
  }
  struct stat st;
  if (sys_fstat(fd, &st) < 0 || st.st_ino == 0) {
    m->ino = 0;
    return;
  }
  m->dev = st.st_dev;
  m->ino = st.st_ino;
}

int file_created_get(int fd, uint64_t dev, uint64_t ino) {
  if (fd < 0 || fd >= FILE_CREATED_FDS) return 0;
  const struct created_mark *m = &marks[fd];
  return m->ino != 0 && m->ino == ino && m->dev == dev;
}

static int wants_mode(int flags) { return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE; }

static int after_open(int fd, int flags) {
  if (fd >= 0) file_created_note(fd, (flags & O_CREAT) != 0);
  return fd;
}

FILE_EXPORT int open(const char *path, int flags, ...) {
  mode_t mode = 0;
  if (wants_mode(flags)) {
    va_list ap;
    va_start(ap, flags);
    mode = (mode_t)va_arg(ap, int);
    va_end(ap);
  }
  return after_open(DMTCP_NEXT(open)(path, flags, mode), flags);
}

FILE_EXPORT int open64(const char *path, int flags, ...) {
  mode_t mode = 0;
  if (wants_mode(flags)) {
    va_list ap;
    va_start(ap, flags);
    mode = (mode_t)va_arg(ap, int);
    va_end(ap);
  }
  return after_open(DMTCP_NEXT(open64)(path, flags, mode), flags);
}

FILE_EXPORT int openat(int dirfd, const char *path, int flags, ...) {
  mode_t mode = 0;
  if (wants_mode(flags)) {
    va_list ap;
    va_start(ap, flags);
    mode = (mode_t)va_arg(ap, int);
    va_end(ap);
  }
  return after_open(DMTCP_NEXT(openat)(dirfd, path, flags, mode), flags);
}

FILE_EXPORT int openat64(int dirfd, const char *path, int flags, ...) {
  mode_t mode = 0;
  if (wants_mode(flags)) {
    va_list ap;
    va_start(ap, flags);
    mode = (mode_t)va_arg(ap, int);
    va_end(ap);
  }
  return after_open(DMTCP_NEXT(openat64)(dirfd, path, flags, mode), flags);
}

FILE_EXPORT int creat(const char *path, mode_t mode) {
  return after_open(DMTCP_NEXT(creat)(path, mode), O_CREAT);
}

FILE_EXPORT int creat64(const char *path, mode_t mode) {
  return after_open(DMTCP_NEXT(creat64)(path, mode), O_CREAT);
}

/* fopen opens inside libc, where no wrapper sees it: "w" and "a" (with or
 * without "+") create the file. */
static FILE *after_fopen(FILE *f, const char *mode) {
  if (f) file_created_note(fileno(f), mode && (mode[0] == 'w' || mode[0] == 'a'));
  return f;
}

FILE_EXPORT FILE *fopen(const char *path, const char *mode) { return after_fopen(DMTCP_NEXT(fopen)(path, mode), mode); }

FILE_EXPORT FILE *fopen64(const char *path, const char *mode) {
  return after_fopen(DMTCP_NEXT(fopen64)(path, mode), mode);
}

FILE_EXPORT FILE *freopen(const char *path, const char *mode, FILE *stream) {
  return after_fopen(DMTCP_NEXT(freopen)(path, mode, stream), mode);
}

FILE_EXPORT FILE *freopen64(const char *path, const char *mode, FILE *stream) {
  return after_fopen(DMTCP_NEXT(freopen64)(path, mode, stream), mode);
}
