/* The checkpoint thread: waits for the coordinator and runs the checkpoint
 * and restart phase scripts, top to bottom. */
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

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

/* One checkpoint, from DO_CHECKPOINT to the resumed barrier. */
static void do_checkpoint(const struct msg *m) {
  double t0 = now_ms();
  g_rt.generation = m->hdr.generation;
  g_rt.num_peers = m->hdr.extra;
  if (m->payload_len > 0 && m->payload_len < sizeof g_rt.ckpt_dir) {
    memcpy(g_rt.ckpt_dir, m->payload, m->payload_len);
    g_rt.ckpt_dir[m->payload_len] = 0;
  }
  threads_suspend_all();
  if (coord_barrier(DMTCP_BARRIER_SUSPENDED, NULL, 0, NULL, 0) < 0) goto resume;
  /* Processes may join until this barrier; its release has the final count. */
  if (g_last_release_extra) g_rt.num_peers = g_last_release_extra;

  procstate_save();
  char tmp[1200], final[1200];
  image_path(tmp, sizeof tmp, 1);
  image_path(final, sizeof final, 0);
  uint64_t bytes = 0;
  int r = image_write(tmp, &bytes);
  if (r == WRITE_RESTARTED) {
    after_restart();
    return;
  }
  char rec[1400];
  struct sbuf sb;
  sb_init(&sb, rec, sizeof rec);
  sb_puts(&sb, "{\"image\":");
  sb_json_str(&sb, final);
  sb_puts(&sb, ",\"bytes\":");
  sb_putu(&sb, bytes);
  if (r != WRITE_OK) sb_puts(&sb, ",\"error\":\"image write failed\"");
  sb_putc(&sb, '}');
  /* The image only replaces the previous one once every process of the
   * computation has written its own: a round that fails keeps the old set. */
  if (coord_barrier(DMTCP_BARRIER_WRITTEN, rec, sb.len, NULL, 0) < 0 || r != WRITE_OK) {
    unlink(tmp);
    goto resume;
  }
  if (rename(tmp, final) < 0) log_msg("cannot rename %s: %s", tmp, strerror(errno));
  fsync_dir(g_rt.ckpt_dir);
  LOG_DEBUG("checkpoint %lu: %lu bytes in %d ms", (unsigned long)g_rt.generation, (unsigned long)bytes,
            (int)(now_ms() - t0));
resume:
  threads_resume_all();
  coord_barrier(DMTCP_BARRIER_RESUMED, NULL, 0, NULL, 0);
  g_rt.done_generation = g_rt.generation;
}

/* Runs in the restored checkpoint thread, every other thread recreated and
 * waiting in its signal handler. */
static void after_restart(void) {
  int expected = 0;
  for (int i = 0; i < MAX_THREADS; i++) {
    int st = atomic_load(&g_threads[i].state);
    if (st == T_SUSPENDED || (g_threads[i].kind == TK_CKPT && &g_threads[i] == ckpt_self)) expected++;
  }
  for (;;) {
    int n = atomic_load(&g_restored_threads);
    if (n >= expected) break;
    sys_futex(&g_restored_threads, FUTEX_WAIT_PRIVATE, n, NULL);
  }
  if (g_restart_info.unmap_end > g_restart_info.unmap_start)
    sys_munmap(g_restart_info.unmap_start, g_restart_info.unmap_end - g_restart_info.unmap_start);
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
  coord_barrier(DMTCP_BARRIER_RESTART_CONNECTED, NULL, 0, NULL, 0);
  threads_resume_all();
  coord_barrier(DMTCP_BARRIER_RESTART_DONE, NULL, 0, NULL, 0);
}

void *ckpt_thread_main(void *arg) {
  ckpt_self = arg;
  thread_fill_self(ckpt_self);
  atomic_store(&ckpt_self->state, T_RUNNING);
  char buf[4096];
  for (;;) {
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
        if (m.hdr.generation > g_rt.done_generation) do_checkpoint(&m);
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
