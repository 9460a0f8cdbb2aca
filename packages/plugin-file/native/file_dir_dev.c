/* Directories, character devices that are not terminals (/dev/null,
 * /dev/urandom...) and block devices: reopened by path, with their flags,
 * at their offset where they have one. */
#define _GNU_SOURCE
#include "file_plugin.h"

const struct file_kind_ops file_dir_ops = {
    .name = "directory",
    .share_kind = file_share_as_file,
};

const struct file_kind_ops file_chr_ops = {
    .name = "device",
    .share_kind = file_share_as_file,
};

const struct file_kind_ops file_blk_ops = {
    .name = "block device",
    .share_kind = file_share_as_file,
};
