/* memfds: a file that exists only in the kernel.  Its bytes are always
 * saved; at restart it is made again with memfd_create (seals are not
 * restored). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <string.h>

#include "file_plugin.h"
#include "dmtcp/sys.h"

#ifndef MFD_CLOEXEC
#define MFD_CLOEXEC 1U
#endif

static void memfd_describe(struct file_rec *r) { file_strip_deleted(r->path); }

static int memfd_wants_contents(const struct file_rec *r, const struct file_settings *s) {
  (void)r;
  (void)s;
  return 1;
}

static long recreate_memfd(struct file_restart *c, struct file_rec *r) {
  char name[256];
  const char *src = r->path + 7; /* "/memfd:" */
  size_t n = strlen(src);
  if (n >= sizeof name) n = sizeof name - 1;
  memcpy(name, src, n);
  name[n] = 0;
  long fd = sys_memfd_create(name, MFD_CLOEXEC);
  if (fd < 0) {
    file_log("fd %d: cannot recreate memfd %s (%s); %s", r->fd, name, file_errno_name(fd), file_leave_note(r));
    return fd;
  }
  const struct file_rec *h = file_contents_of(c->t, r);
  if (h) file_write_all((int)fd, c->t->data + h->data_off, h->data_len);
  if (r->size > 0 && (!h || h->data_len < (uint64_t)r->size)) sys_ftruncate((int)fd, r->size);
  if ((r->flags & O_ACCMODE) != O_RDWR) {
    /* Made read-write; a description with the application's access mode. */
    long again = file_reopen_fd((int)fd, file_reopen_flags(r->flags));
    if (again >= 0) {
      sys_close((int)fd);
      fd = again;
    }
  }
  return fd;
}

static int memfd_restore(struct file_restart *c, size_t i) { return file_restore_unnamed(c, i, recreate_memfd); }

const struct file_kind_ops file_memfd_ops = {
    .name = "memfd",
    .seekable = 1,
    .describe = memfd_describe,
    .wants_contents = memfd_wants_contents,
    .share_kind = file_share_as_file,
    .restore = memfd_restore,
};
