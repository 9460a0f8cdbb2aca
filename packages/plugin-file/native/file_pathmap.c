/* --path-map: restarting where files live elsewhere (another machine, a
 * moved project directory).  Parsed on each use, straight from the string,
 * so that restart needs no allocation.  src/policy.ts implements the same
 * rules for the coordinator and the CLI; test/pathmap.e2e.test.ts checks that
 * both agree. */
#include <string.h>

#include "file_plugin.h"

struct span {
  const char *s;
  size_t n;
};

/* Length without trailing slashes; "/" (or "//") becomes 0: the root. */
static size_t trim_slashes(const char *s, size_t n) {
  while (n > 0 && s[n - 1] == '/') n--;
  return n;
}

/* The next "OLD=NEW" entry from *cursor; 0 at the end of the map. */
static int next_entry(const char **cursor, struct span *old, struct span *new_, int *bad) {
  const char *p = *cursor;
  for (;;) {
    if (!*p) return 0;
    const char *end = strchr(p, ':');
    if (!end) end = p + strlen(p);
    *cursor = *end ? end + 1 : end;
    if (end == p) {
      p = *cursor;
      continue; /* empty entry: "a=b::c=d" or a trailing ':' */
    }
    const char *eq = memchr(p, '=', (size_t)(end - p));
    *bad = !eq || eq == p || eq + 1 == end || p[0] != '/' || eq[1] != '/' ||
           memchr(eq + 1, '=', (size_t)(end - eq - 1)) != NULL;
    if (eq) {
      old->s = p;
      old->n = (size_t)(eq - p);
      new_->s = eq + 1;
      new_->n = (size_t)(end - eq - 1);
    } else {
      old->s = new_->s = p;
      old->n = new_->n = 0;
    }
    return 1;
  }
}

const char *file_path_map_problem(const char *spec) {
  if (!spec) return NULL;
  const char *cur = spec;
  struct span old, new_;
  int bad = 0;
  while (next_entry(&cur, &old, &new_, &bad)) {
    if (bad) return "each entry must be OLD=NEW with both absolute paths (OLD=NEW[:OLD2=NEW2...])";
  }
  return NULL;
}

int file_path_map_apply(const char *spec, const char *path, char *out, size_t cap) {
  size_t best_score = 0;
  struct span best_old = {0, 0}, best_new = {0, 0};
  if (spec && path[0] == '/') {
    const char *cur = spec;
    struct span old, new_;
    int bad = 0;
    while (next_entry(&cur, &old, &new_, &bad)) {
      if (bad) continue;
      size_t n = trim_slashes(old.s, old.n);
      int match = n == 0 || (strncmp(path, old.s, n) == 0 && (path[n] == 0 || path[n] == '/'));
      if (match && n + 1 > best_score) {
        best_score = n + 1;
        best_old.s = old.s;
        best_old.n = n;
        best_new.s = new_.s;
        best_new.n = trim_slashes(new_.s, new_.n);
      }
    }
  }
  size_t plen = strlen(path);
  if (!best_score) {
    if (plen + 1 > cap) return -1;
    memcpy(out, path, plen + 1);
    return 0;
  }
  const char *rest = path + best_old.n;
  size_t rlen = plen - best_old.n;
  /* NEW "/" with nothing left over is the root itself. */
  int root = best_new.n == 0 && rlen == 0;
  size_t need = best_new.n + rlen + (root ? 1 : 0) + 1;
  if (need > cap) return -1;
  memcpy(out, best_new.s, best_new.n);
  memcpy(out + best_new.n, rest, rlen);
  if (root) out[best_new.n + rlen] = '/';
  out[need - 1] = 0;
  return 1;
}
