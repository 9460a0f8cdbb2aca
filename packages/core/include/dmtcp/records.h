/* The JSON records the runtime sends the coordinator at the checkpoint
 * barriers of protocol.h.  Each record's shape is declared once, here: a
 * field-name macro per key, and an X-macro list that gives each field its
 * type and whether it is always present.  The runtime writes the keys with
 * the name macros (DMTCP_JSON_KEY); scripts/gen-constants.mjs turns every
 * list into a TypeScript interface and a validating parser
 * (src/generated/constants.ts), which the coordinator reads records with.
 *
 * A list is `#define NAME(X) X(FIELD, TYPE, PRESENCE) ...` where FIELD is a
 * name macro defined above it, TYPE one of
 *   string             a JSON string
 *   uint               a non-negative integer
 *   int                an integer
 *   bool               true or false
 *   uint_string_pairs  an array of [uint, string] pairs
 * and PRESENCE `required` or `optional`.  Keys a list does not declare are
 * ignored by the parser, so a newer runtime may add fields. */
#ifndef DMTCP_RECORDS_H
#define DMTCP_RECORDS_H

/* `"key":` for a writer that emits JSON a piece at a time. */
#define DMTCP_JSON_KEY(name) "\"" name "\":"

/* ckpt:suspended (DMTCP_BARRIER_SUSPENDED): the descriptors the process has
 * open, for the coordinator to say which no plugin restores. */
#define DMTCP_SUSPENDED_IMAGE "image"         /* base name of the image being taken */
#define DMTCP_SUSPENDED_STRICT "strict"       /* launch --strict: unrestorable descriptors fail the round */
#define DMTCP_SUSPENDED_FDS "fds"             /* [fd, kind] for every open descriptor */
#define DMTCP_SUSPENDED_TRUNCATED "truncated" /* present (true) when the list did not fit a frame */
#define DMTCP_SUSPENDED_RECORD(X)             \
  X(DMTCP_SUSPENDED_IMAGE, string, required)  \
  X(DMTCP_SUSPENDED_STRICT, bool, required)   \
  X(DMTCP_SUSPENDED_FDS, uint_string_pairs, required) \
  X(DMTCP_SUSPENDED_TRUNCATED, bool, optional)

/* ckpt:written (DMTCP_BARRIER_WRITTEN): the image the process wrote, or why
 * it could not; any record with an error fails the round. */
#define DMTCP_WRITTEN_IMAGE "image"         /* the final image path */
#define DMTCP_WRITTEN_BYTES "bytes"         /* bytes written */
#define DMTCP_WRITTEN_FROZEN_MS "frozen_ms" /* how long the application was stopped */
#define DMTCP_WRITTEN_TMP "tmp"             /* on failure: the temporary image, deleted */
#define DMTCP_WRITTEN_ERROR "error"         /* on failure: why, in words */
#define DMTCP_WRITTEN_ERRNO "errno"         /* on failure from a system call: its errno */
#define DMTCP_WRITTEN_RECORD(X)               \
  X(DMTCP_WRITTEN_IMAGE, string, required)    \
  X(DMTCP_WRITTEN_BYTES, uint, required)      \
  X(DMTCP_WRITTEN_FROZEN_MS, uint, required)  \
  X(DMTCP_WRITTEN_TMP, string, optional)      \
  X(DMTCP_WRITTEN_ERROR, string, optional)    \
  X(DMTCP_WRITTEN_ERRNO, uint, optional)

/* ckpt:resumed (DMTCP_BARRIER_RESUMED): empty when the image was renamed
 * into place; otherwise why not (the set of images is then mixed). */
#define DMTCP_RESUMED_ERROR "error"
#define DMTCP_RESUMED_RECORD(X) X(DMTCP_RESUMED_ERROR, string, optional)

#endif
