/* Checkpoint image layout: one file per process.
 *
 *   [0, 4096)            struct dmtcp_image_header
 *   regions_offset       num_regions x struct dmtcp_image_region
 *   runs_offset          num_runs x struct dmtcp_image_run
 *   strings_offset       NUL-terminated strings (paths) referenced by regions
 *   meta_offset          JSON metadata (process, threads, regions) for tools
 *   data_offset          page-aligned page data; each run's data_offset is
 *                        page-aligned too, so restart can map it directly.
 *
 * All integers little-endian.  The TypeScript reader (src/image/) reads the
 * header and the JSON metadata; scripts/gen-constants.mjs generates its
 * constants from this file and a test checks offsets with a compiled probe. */
#ifndef DMTCP_IMAGE_H
#define DMTCP_IMAGE_H

#include <stdint.h>

#define DMTCP_IMAGE_MAGIC "DMTCPIMG"
#define DMTCP_IMAGE_VERSION 1
#define DMTCP_IMAGE_HEADER_SIZE 4096
#define DMTCP_PAGE_SIZE 4096

/* Region flags. */
#define DMTCP_REGION_SHARED 0x1     /* MAP_SHARED */
#define DMTCP_REGION_FILE 0x2       /* backed by `path` at `file_offset` */
#define DMTCP_REGION_GROWSDOWN 0x4  /* main stack */
#define DMTCP_REGION_HEAP 0x8       /* was [heap] */
#define DMTCP_REGION_VDSO 0x10      /* [vdso]: no data, moved into place */
#define DMTCP_REGION_VVAR 0x20      /* [vvar*]: no data, moved into place */
#define DMTCP_REGION_ALL_DATA 0x40  /* every page of the region is in the runs */
#define DMTCP_REGION_NORESERVE 0x80 /* not charged against the commit limit
                                       (no VM_ACCOUNT: MAP_NORESERVE, or never
                                       writable): restart maps it MAP_NORESERVE */

struct dmtcp_image_header {
  char magic[8];
  uint32_t version;
  uint32_t header_size;
  uint64_t image_size;      /* whole file; detects truncation */
  uint64_t regions_offset;
  uint32_t num_regions;
  uint32_t region_size;     /* sizeof(struct dmtcp_image_region) */
  uint64_t runs_offset;
  uint32_t num_runs;
  uint32_t run_size;        /* sizeof(struct dmtcp_image_run) */
  uint64_t strings_offset;
  uint64_t strings_len;
  uint64_t meta_offset;
  uint64_t meta_len;
  uint64_t data_offset;
  uint64_t data_len;
  uint64_t restore_entry;   /* address of the runtime's restore function */
  uint64_t generation;
  uint64_t comp_id;
  uint64_t upid;
  uint32_t num_peers;       /* processes in the computation at checkpoint */
  uint32_t pid;             /* real pid at checkpoint */
  uint64_t ckpt_time_ns;    /* CLOCK_REALTIME at checkpoint */
  uint64_t tables_checksum; /* FNV-1a 64 of [regions_offset, data_offset) */
  uint64_t header_checksum; /* FNV-1a 64 of the header up to this field */
  char reserved[DMTCP_IMAGE_HEADER_SIZE - 168];
};
_Static_assert(sizeof(struct dmtcp_image_header) == DMTCP_IMAGE_HEADER_SIZE, "image header size");

struct dmtcp_image_region {
  uint64_t start;
  uint64_t end;
  uint64_t file_offset;
  uint64_t file_size;       /* for FILE regions: st_size at checkpoint */
  uint64_t file_mtime_ns;   /* for FILE regions: st_mtim at checkpoint */
  uint64_t file_ino;
  uint32_t prot;            /* PROT_* */
  uint32_t flags;           /* DMTCP_REGION_* */
  uint32_t first_run;
  uint32_t num_runs;
  uint32_t path_offset;     /* into strings; 0xffffffff when none */
  uint32_t reserved;
};
_Static_assert(sizeof(struct dmtcp_image_region) == 72, "region record size");

struct dmtcp_image_run {
  uint64_t addr;
  uint64_t len;
  uint64_t data_offset;     /* absolute file offset, page-aligned */
};
_Static_assert(sizeof(struct dmtcp_image_run) == 24, "run record size");

/* Handed by the restart program to the restored runtime's restore_entry. It
 * lives in the restart program's memory, which the runtime unmaps once every
 * thread is back. */
struct dmtcp_restart_info {
  uint32_t version;
  uint32_t coord_port;
  uint64_t unmap_start;     /* the restart program's own range */
  uint64_t unmap_end;
  uint64_t image_ino;       /* regions may still be mapped from this image */
  uint64_t env_addr;        /* the restart's environment: NUL-separated "K=V" */
  uint64_t env_len;
  char coord_host[64];
  char ckpt_dir[1024];      /* empty: keep the checkpointed directory */
  char image_path[1024];
  uint32_t flags;           /* DMTCP_RESTART_* */
  uint32_t reserved;
  /* With DMTCP_RESTART_CLOCK_SHIFT: what plugins add to every CLOCK_MONOTONIC
   * (and _RAW, _COARSE) and CLOCK_BOOTTIME read, so that the program's clocks
   * go on from the checkpoint's when no time namespace could shift them. */
  int64_t clock_shift_ns[2];  /* [0] monotonic, [1] boottime */
};

/* The process was made with its checkpointed pid, in a pid namespace of the
 * restart's own: its threads are recreated with their tids too. */
#define DMTCP_RESTART_PID_NS 1u
/* The processes run in a time namespace of the restart's own, whose offsets
 * make CLOCK_MONOTONIC and CLOCK_BOOTTIME go on from the checkpoint's. */
#define DMTCP_RESTART_TIME_NS 2u
/* No time namespace: clock_shift_ns is to be added by wrappers. */
#define DMTCP_RESTART_CLOCK_SHIFT 4u

#endif
