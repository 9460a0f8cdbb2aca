/* FNV-1a 64: image checksums (also implemented in src/image/reader.ts) and
 * keys that several processes must compute alike.  Safe everywhere. */
#ifndef DMTCP_HASH_H
#define DMTCP_HASH_H

#include <stddef.h>
#include <stdint.h>

#define FNV1A64_INIT 0xcbf29ce484222325ULL

static inline uint64_t fnv1a64(uint64_t h, const void *data, size_t n) {
  const unsigned char *p = (const unsigned char *)data;
  for (size_t i = 0; i < n; i++) {
    h ^= p[i];
    h *= 0x100000001b3ULL;
  }
  return h;
}

#endif
