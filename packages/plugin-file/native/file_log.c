/* Messages without stdio: the checkpoint thread may run while an
 * application thread is stopped holding the stdio lock or inside malloc. */
#include <errno.h>
#include <string.h>

#include "file_plugin.h"

static int log_fd = 2;

const char *file_errno_name(long err) {
  if (err < 0) err = -err;
  switch (err) {
    case ENOENT: return "no such file or directory";
    case EACCES: return "permission denied";
    case EPERM: return "operation not permitted";
    case EISDIR: return "is a directory";
    case ENOTDIR: return "a path component is not a directory";
    case ENXIO: return "no such device or address";
    case ELOOP: return "too many symbolic links";
    case ENAMETOOLONG: return "path too long";
    case EROFS: return "read-only file system";
    case ETXTBSY: return "text file busy";
    case EINVAL: return "invalid argument";
    case ENOSPC: return "no space left on device";
    case EMFILE: return "too many open files";
    case EEXIST: return "file exists";
    case EBADF: return "bad file descriptor";
    case ENODEV: return "no such device";
    case ENOMEM: return "out of memory";
    default: return "error";
  }
}

void file_log_to(int fd) { log_fd = fd; }

static void vlog(const char *fmt, va_list ap) {
  char buf[FILE_PATH_CAP + 512];
  dmtcp_vlog_to(log_fd, "file", buf, sizeof buf, fmt, ap);
}

void file_log(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vlog(fmt, ap);
  va_end(ap);
}

void file_debug(const char *fmt, ...) {
  if (!dmtcp_debug()) return;
  va_list ap;
  va_start(ap, fmt);
  vlog(fmt, ap);
  va_end(ap);
}
