/* The checkpoint thread: waits for the coordinator and runs the checkpoint
 * and restart phase scripts, top to bottom. */
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dmtcp/plugin.h"
#include "runtime.h"

static struct thread_rec *ckpt_self;

void image_path(char *out, size_t cap, int tmp) {
  struct sbuf sb;
  sb_init(&sb, out, cap);
  sb_puts(&sb, g_rt.ckpt_dir);
  sb_puts(&sb, "/ckpt_");
  const char *prog = g_rt.argc > 0 && g_rt.argv && g_rt.argv[0] ? g_rt.argv[0] : "prog";
  const char *slash = strrchr(prog, '/');
  prog = slash ? slash + 1 : prog;
  for (const char *p = prog; *p && p - prog < 64; p++) sb_putc(&sb, *p == '/' ? '_' : *p);
  sb_putc(&sb, '_');
  sb_putx(&sb, g_rt.upid, 16);
  sb_puts(&sb, tmp ? ".dmtcp.tmp" : ".dmtcp");
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void fsync_dir(const char *dir) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    fsync(fd);
    close(fd);
  }
}

static void after_restart(void);

/* The restart's environment lives in the restart program's memory, about to
 * be unmapped: copy it. */
static void keep_restart_env(void) {
  uint64_t len = g_restart_info.env_len;
  g_rt.restart_env = NULL;
  g_rt.restart_env_len = 0;
  if (!len) return;
  long a = sys_mmap(0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (a < 0 && a > -4096) return;
  memcpy((void *)a, (const void *)g_restart_info.env_addr, len);
  g_rt.restart_env = (const char *)a;
  g_rt.restart_env_len = len;
}

static int barrier(const char *name) { return coord_barrier(name, NULL, 0, NULL, 0); }

/* What every process does once its memory is captured: resume
 * (is_restart = 0) or restart (1).  Plugins restore their kernel objects,
 * refill buffers and exchange names before any user thread runs again.
 * Returns -1 when the coordinator abandoned the round on the way: the
 * remaining events still run and the threads still resume, but no further
 * barrier of that round is awaited. */
static int resume_phase(int is_restart) {
  int ok = 0;
  event_restart_flag(is_restart ? DMTCP_EVENT_RESTART : DMTCP_EVENT_RESUME, is_restart);
  event_restart_flag(DMTCP_EVENT_REFILL, is_restart);
  if (barrier(is_restart ? "restart:refilled" : "ckpt:refilled") < 0) ok = -1;
  g_rt.ns_phase = ok == 0;
  event_restart_flag(DMTCP_EVENT_REGISTER_NAME_SERVICE_DATA, is_restart);
  if (ok == 0 && barrier(is_restart ? "restart:registered" : "ckpt:registered") < 0) ok = -1;
  g_rt.ns_phase = ok == 0;
  event_restart_flag(DMTCP_EVENT_SEND_QUERIES, is_restart);
  g_rt.ns_phase = 0;
  event_restart_flag(DMTCP_EVENT_THREADS_RESUME, is_restart);
  g_rt.round_is_restart = is_restart;
  threads_resume_all();
  return ok;
}

static void round_over(int ok) {
  if (ok) g_rt.done_generation = g_rt.generation;
  api_checkpoint_done(ok);
}

/* One checkpoint, from DO_CHECKPOINT to the resumed barrier.  The
 * application is stopped only until its memory is captured; the image is
 * finished on disk while it runs. */
static void do_checkpoint(const struct msg *m) {
  double t0 = now_ms();
  g_rt.generation = m->hdr.generation;
  g_rt.num_peers = m->hdr.extra;
  char tmp[1200], final[1200];
  image_path(tmp, sizeof tmp, 1);
  image_path(final, sizeof final, 0);

  threads_suspend_all();
  mutex_note_checkpoint();
  event_simple(DMTCP_EVENT_THREADS_SUSPEND);
  if (barrier(DMTCP_BARRIER_SUSPENDED) < 0) goto failed;
  /* Processes may join until this barrier; its release has the final count. */
  if (g_last_release_extra) g_rt.num_peers = g_last_release_extra;
  event_simple(DMTCP_EVENT_SUSPENDED);
  event_simple(DMTCP_EVENT_LEADER_ELECTION);
  if (barrier("ckpt:leader-election") < 0) goto failed;
  event_simple(DMTCP_EVENT_DRAIN);
  if (barrier("ckpt:drained") < 0) goto failed;

  DmtcpEventData_t d;
  memset(&d, 0, sizeof d);
  d.writeCkpt.imagePath = final;
  events_dispatch(DMTCP_EVENT_WRITE_CKPT, &d);
  procstate_save();
  struct image_writer w;
  int r = image_write_begin(tmp, &w);
  if (r == WRITE_RESTARTED) {
    after_restart();
    return;
  }
  double frozen = now_ms() - t0;
  int alive = resume_phase(0) == 0;

  r = image_write_finish(tmp, &w);
  char rec[1400];
  struct sbuf sb;
  sb_init(&sb, rec, sizeof rec);
  sb_puts(&sb, "{\"image\":");
  sb_json_str(&sb, final);
  sb_puts(&sb, ",\"bytes\":");
  sb_putu(&sb, w.bytes);
  sb_puts(&sb, ",\"frozen_ms\":");
  sb_putu(&sb, (uint64_t)frozen);
  if (r != WRITE_OK) sb_puts(&sb, ",\"error\":\"image write failed\"");
  sb_putc(&sb, '}');
  /* The image only replaces the previous one once every process of the
   * computation has written its own: a round that fails keeps the old set. */
  if (!alive || coord_barrier(DMTCP_BARRIER_WRITTEN, rec, sb.len, NULL, 0) < 0 || r != WRITE_OK) {
    unlink(tmp);
    log_msg("checkpoint %lu abandoned; the previous images stay", (unsigned long)g_rt.generation);
    round_over(0);
    return;
  }
  if (rename(tmp, final) < 0) log_msg("cannot rename %s: %s", tmp, strerror(errno));
  fsync_dir(g_rt.ckpt_dir);
  barrier(DMTCP_BARRIER_RESUMED);
  LOG_DEBUG("checkpoint %lu: %lu bytes, frozen %d ms, on disk after %d ms", (unsigned long)g_rt.generation,
            (unsigned long)w.bytes, (int)frozen, (int)(now_ms() - t0));
  round_over(1);
  return;

failed:
  /* The coordinator gave up on this round: run again as before. */
  log_msg("checkpoint %lu abandoned; the previous images stay", (unsigned long)g_rt.generation);
  event_restart_flag(DMTCP_EVENT_THREADS_RESUME, 0);
  g_rt.round_is_restart = 0;
  threads_resume_all();
  round_over(0);
}

/* Runs in the restored checkpoint thread, every other thread recreated and
 * waiting in its signal handler. */
static void after_restart(void) {
  int expected = 0;
  for (int i = 0; i < threads_used(); i++) {
    int st = atomic_load(&g_threads[i].state);
    if (st == T_SUSPENDED || &g_threads[i] == ckpt_self) expected++;
  }
  for (;;) {
    int n = atomic_load(&g_restored_threads);
    if (n >= expected) break;
    sys_futex(&g_restored_threads, FUTEX_WAIT_PRIVATE, n, NULL);
  }
  mutex_fix_owners_after_restart();
  keep_restart_env();
  if (g_restart_info.unmap_end > g_restart_info.unmap_start)
    sys_munmap(g_restart_info.unmap_start, g_restart_info.unmap_end - g_restart_info.unmap_start);
  g_rt.restart_count++;
  procstate_restore_rest();
  if (g_restart_info.ckpt_dir[0]) {
    size_t n = strnlen(g_restart_info.ckpt_dir, sizeof g_rt.ckpt_dir - 1);
    memcpy(g_rt.ckpt_dir, g_restart_info.ckpt_dir, n);
    g_rt.ckpt_dir[n] = 0;
  }
  coord_set_address(g_restart_info.coord_host, (int)g_restart_info.coord_port);
  if (connect_and_register(DMTCP_HELLO_RESTART, -1) < 0) {
    log_msg("restart: cannot reach the coordinator at %s:%u", g_restart_info.coord_host, g_restart_info.coord_port);
    sys_exit_group(1);
  }
  g_rt.done_generation = g_rt.generation;
  g_rt.handled_generation = g_rt.generation;
  barrier(DMTCP_BARRIER_RESTART_CONNECTED);
  if (resume_phase(1) == 0) barrier(DMTCP_BARRIER_RESTART_DONE);
  api_checkpoint_done(1);
}

void *ckpt_thread_main(void *arg) {
  ckpt_self = arg;
  thread_fill_self(ckpt_self);
  atomic_store(&ckpt_self->state, T_RUNNING);
  char buf[4096];
  for (;;) {
    event_simple(DMTCP_EVENT_WAIT_FOR_SUSPEND_MSG);
    struct pollfd p = {DMTCP_COORD_FD, POLLIN, 0};
    if (poll(&p, 1, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    /* Take the lock before reading: a DO_CHECKPOINT that arrives while a
     * wrapper runs exec must stay in the socket for the new program. */
    ckpt_lock_write();
    struct msg m;
    if (coord_recv(DMTCP_COORD_FD, &m, buf, sizeof buf) < 0) {
      ckpt_unlock_write();
      break;
    }
    switch (m.hdr.type) {
      case DMT_DO_CHECKPOINT:
        /* A copy sent again around an exec for a round already done. */
        if (m.hdr.generation > g_rt.handled_generation) {
          g_rt.handled_generation = m.hdr.generation;
          atomic_store(&g_round_active, 1);
          do_checkpoint(&m);
        }
        break;
      case DMT_KILL:
        sys_call2(__NR_kill, sys_getpid(), SIGKILL);
        break;
      default:
        LOG_DEBUG("ignoring message %u", m.hdr.type);
    }
    ckpt_unlock_write();
  }
  LOG_DEBUG("lost the coordinator; this process can no longer be checkpointed");
  return NULL;
}
