/* Checkpoint: which connected stream sockets have their peer inside the
 * computation.  Every process lists its own at the socket:peers barrier and
 * the coordinator's policy (src/policy.ts) pairs the keys. */
#include <netinet/in.h>

#include "dmtcp/fmt.h"
#include "dmtcp/plugin.h"
#include "socket_plugin.h"
#include "socket_wire.h"

static char record[SOCKET_RECORD_MAX];
static char reply[SOCKET_REPLY_MAX + 1];

static void put_hex(struct sbuf *sb, const void *p, size_t n) {
  const unsigned char *b = p;
  for (size_t i = 0; i < n; i++) sb_putx(sb, b[i], 2);
}

/* "t" + family, port and address in hex; the same bytes for both ends'
 * view of one connection (local on one side is remote on the other). */
static void put_inet_key(struct sbuf *sb, const struct sockaddr_storage *ss) {
  sb_putc(sb, 't');
  if (ss->ss_family == AF_INET) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
    sb_putx(sb, 4, 2);
    put_hex(sb, &in->sin_port, 2);
    put_hex(sb, &in->sin_addr, 4);
  } else {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
    sb_putx(sb, 6, 2);
    put_hex(sb, &in6->sin6_port, 2);
    put_hex(sb, &in6->sin6_addr, 16);
  }
}

static int has_key(const struct socket_rec *r) {
  if (r->domain == AF_UNIX) return r->peer_ino != 0;
  return r->addrlen > 0 && r->peerlen > 0;
}

static void put_line(struct sbuf *sb, size_t i, const struct socket_rec *r) {
  sb_putu(sb, i);
  sb_putc(sb, ' ');
  if (r->domain == AF_UNIX) {
    sb_format(sb, "u%lu u%lu", (unsigned long)r->ino, (unsigned long)r->peer_ino);
  } else {
    put_inet_key(sb, &r->addr);
    sb_putc(sb, ' ');
    put_inet_key(sb, &r->peer);
  }
  sb_putc(sb, '\n');
}

static int parse_u(const char **p, const char *end, uint64_t *out) {
  const char *s = *p;
  while (*p < end && **p >= '0' && **p <= '9') (*p)++;
  return fmt_parse_dec(s, (size_t)(*p - s), out) > 0 ? 0 : -1;
}

static int word(const char **p, const char *end, const char *w) {
  size_t n = fmt_strlen(w);
  if ((size_t)(end - *p) < n) return 0;
  for (size_t i = 0; i < n; i++)
    if ((*p)[i] != w[i]) return 0;
  *p += n;
  return 1;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

/* One reply line "<index> ..." applied to the table; -1 if malformed. */
static int apply_line(struct socket_table *t, const char *p, const char *end) {
  if (word(&p, end, "nonce ")) {
    /* The token: a fixed half, so that it never is all zeros, and the
     * round's random half. */
    static const char fixed[8] = "dmtcp:sk";
    if (end - p != 16) return -1;
    for (int i = 0; i < 8; i++) {
      int hi = hexval(p[2 * i]), lo = hexval(p[2 * i + 1]);
      if (hi < 0 || lo < 0) return -1;
      t->token[i] = (unsigned char)fixed[i];
      t->token[8 + i] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
  }
  uint64_t idx, id, other;
  if (parse_u(&p, end, &idx) < 0 || idx >= t->nrecs || !word(&p, end, " ")) return -1;
  struct socket_rec *r = &t->recs[idx];
  if (r->role != SR_CONNECTED) return -1;
  if (word(&p, end, "ext")) r->role = SR_PEER_GONE;
  else if (word(&p, end, "shared")) r->role = SR_SHARED;
  else if (word(&p, end, "pair ")) {
    if (parse_u(&p, end, &id) < 0) return -1;
    r->pair_id = (unsigned)id;
    if (word(&p, end, " listen")) r->pair_role = PR_LISTEN;
    else if (word(&p, end, " connect")) r->pair_role = PR_CONNECT;
    else if (word(&p, end, " local ") && parse_u(&p, end, &other) == 0 && other < t->nrecs) {
      r->pair_role = PR_LOCAL;
      r->local_other = (int)other;
    } else return -1;
    r->role = SR_PAIR;
  } else return -1;
  return p == end ? 0 : -1;
}

static void unplaced_are_gone(struct socket_table *t) {
  for (size_t i = 0; i < t->nrecs; i++)
    if (t->recs[i].role == SR_CONNECTED || t->recs[i].role == SR_PAIR) {
      t->recs[i].role = SR_PEER_GONE;
      t->recs[i].pair_role = PR_NONE;
    }
}

int socket_peers(struct socket_table *t) {
  struct sbuf sb;
  sb_init(&sb, record, sizeof record);
  for (size_t i = 0; i < t->nrecs; i++) {
    struct socket_rec *r = &t->recs[i];
    if (r->role != SR_CONNECTED || r->leader != (int)i) continue;
    if (has_key(r)) put_line(&sb, i, r);
    else r->role = SR_PEER_GONE;
  }
  if (sb.overflow) {
    socket_log("too many connected sockets for one record: their peers are taken as gone");
    sb_init(&sb, record, sizeof record);
  }
  size_t len = SOCKET_REPLY_MAX;
  int rc = dmtcp_global_barrier(SOCKET_BARRIER_PEERS, record, sb.len, reply, &len);
  int ok = rc == DMTCP_NS_OK;
  if (!ok) socket_log("barrier %s failed (%d): connected sockets will read as reset after a restart", SOCKET_BARRIER_PEERS, rc);
  for (const char *p = reply, *end = reply + (ok ? len : 0); ok && p < end;) {
    const char *nl = p;
    while (nl < end && *nl != '\n') nl++;
    if (apply_line(t, p, nl) < 0) {
      socket_log("barrier %s: malformed reply line", SOCKET_BARRIER_PEERS);
      ok = 0;
    }
    p = nl + 1;
  }
  /* Dups are the leader's. */
  for (size_t i = 0; i < t->nrecs; i++) {
    struct socket_rec *r = &t->recs[i];
    if (r->leader != (int)i && r->role == SR_CONNECTED) r->role = t->recs[r->leader].role;
  }
  if (!ok) {
    unplaced_are_gone(t);
    return -1;
  }
  for (size_t i = 0; i < t->nrecs; i++)
    if (t->recs[i].role == SR_CONNECTED) t->recs[i].role = SR_PEER_GONE;
  return 0;
}
