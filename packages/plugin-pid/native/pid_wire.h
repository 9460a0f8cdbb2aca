/* What crosses between a process and the pid plugin's coordinator module at
 * restart.  Its #defines are the one source of the constants: the build
 * generates src/generated/wire.ts from them (dmtcp gen-constants), and
 * test/wire.test.ts fails when that file is stale.  src/wire.ts encodes and
 * decodes the structs below.  All fields little-endian. */
#ifndef PID_WIRE_H
#define PID_WIRE_H

#include <stdint.h>

#define PID_BARRIER_RESTART "pid:restart"

#define PID_WIRE_VERSION 1

/* One process's record: its virtual pid, its real pid in this life, and the
 * virtual and real tids of its other threads. */
#define PID_RECORD_MAGIC 0x52444950u /* "PIDR" */
struct pid_record_header {
  uint32_t magic;
  uint16_t version;
  uint16_t flags;
  int32_t vpid;
  int32_t real;
  uint32_t nthreads;
};
struct pid_record_thread {
  int32_t vtid;
  int32_t real;
};
#define PID_RECORD_HEADER_SIZE 20
#define PID_RECORD_THREAD_SIZE 8

/* The reply: every process and thread on the recipient's host.  owner is the
 * vpid of the process a thread belongs to; owner == vid marks a process. */
#define PID_TABLE_MAGIC 0x54444950u /* "PIDT" */
struct pid_table_header {
  uint32_t magic;
  uint16_t version;
  uint16_t flags;
  uint32_t count;
};
struct pid_table_entry {
  int32_t vid;
  int32_t real;
  int32_t owner;
};
#define PID_TABLE_HEADER_SIZE 12
#define PID_TABLE_ENTRY_SIZE 12

/* A claim (dmtcp_coordinator_call PID_CALL_CLAIM): a process asks for a
 * virtual id no other task of the computation holds, on any host.  The
 * answer is one int32_t: `wanted` when it is free (or already the caller's),
 * otherwise with PID_CLAIM_EXACT 0, without it another free number below
 * pid_max that is none of `avoid` (ids this host's kernel uses). */
#define PID_CALL_CLAIM "pid:claim"
#define PID_CLAIM_MAGIC 0x43444950u /* "PIDC" */
#define PID_CLAIM_EXACT 1u
#define PID_CLAIM_MAX_AVOID 8
struct pid_claim {
  uint32_t magic;
  uint16_t version;
  uint16_t flags;
  int32_t wanted;
  int32_t pid_max;
  uint32_t navoid;
  int32_t avoid[PID_CLAIM_MAX_AVOID];
};
#define PID_CLAIM_SIZE 52

/* dmtcp_global_barrier receives at most this many reply bytes (the core reads
 * a release into an 8 KiB buffer and keeps one byte for a terminating NUL). */
#define PID_REPLY_MAX 8191

_Static_assert(sizeof(struct pid_record_header) == PID_RECORD_HEADER_SIZE, "record header layout");
_Static_assert(sizeof(struct pid_record_thread) == PID_RECORD_THREAD_SIZE, "record thread layout");
_Static_assert(sizeof(struct pid_table_header) == PID_TABLE_HEADER_SIZE, "table header layout");
_Static_assert(sizeof(struct pid_table_entry) == PID_TABLE_ENTRY_SIZE, "table entry layout");
_Static_assert(sizeof(struct pid_claim) == PID_CLAIM_SIZE, "claim layout");

#endif
