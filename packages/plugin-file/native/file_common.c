/* Helpers the kinds and the phases share: nothing here knows one kind from
 * another or runs a phase.  Kernel calls only, no malloc, no stdio. */
#define _GNU_SOURCE
#include <string.h>

#include "file_plugin.h"

static const char DELETED_SUFFIX[] = " (deleted)";
#define DELETED_LEN (sizeof DELETED_SUFFIX - 1)

int file_path_deleted(const char *path) {
  size_t n = strlen(path);
  return n >= DELETED_LEN && memcmp(path + n - DELETED_LEN, DELETED_SUFFIX, DELETED_LEN) == 0;
}

void file_strip_deleted(char *path) {
  if (file_path_deleted(path)) path[strlen(path) - DELETED_LEN] = 0;
}

char file_share_as_file(const struct file_rec *r) {
  (void)r;
  return 'F';
}
