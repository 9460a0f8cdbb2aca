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
#include "dmtcp/records.h"
#include "dmtcp5.h"
#include "runtime.h"

static struct thread_rec *ckpt_self;

/* What the coordinator said, at the last checkpoint, about the descriptors
 * no loaded plugin restores: printed once the image is restarted, before
 * the program runs into them. In static memory, so it is in the image. */
static char restart_note[1024];

void image_path(char *out, size_t cap, int tmp) {
  struct sbuf sb;
  sb_init(&sb, out, cap);
  sb_puts(&sb, g_rt.ckpt_dir);
  sb_puts(&sb, "/ckpt_");
  const char *prog = g_rt.prog[0] ? g_rt.prog : "prog";
  /* Nothing a shell would trip on. */
  for (const char *p = prog; *p; p++) sb_putc(&sb, *p == '/' || *p == ' ' || *p == '*' || *p == '?' ? '_' : *p);
  sb_putc(&sb, '_');
  sb_putx(&sb, g_rt.upid, 16);
  sb_puts(&sb, tmp ? ".dmtcp.tmp" : ".dmtcp");
}

static double now_ms(void) {
  struct timespec ts;
  sys_clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void fsync_dir(const char *dir) {
  long fd = sys_open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
  if (fd >= 0) {
    sys_fsync((int)fd);
    sys_close((int)fd);
  }
}

static void after_restart(void);

/* The restart's environment lives in the restart program's memory, about to
 * be unmapped: copy it. */
static void keep_restart_env(void) {
  uint64_t len = g_restart_info.env_len;
  /* The copy kept at the previous restart came back with the image. */
  if (g_rt.restart_env) sys_munmap((uint64_t)g_rt.restart_env, g_rt.restart_env_len);
  g_rt.restart_env = NULL;
  g_rt.restart_env_len = 0;
  if (!len) return;
  long a = sys_mmap(0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (a < 0 && a > -4096) return;
  memcpy((void *)a, (const void *)g_restart_info.env_addr, len);
  g_rt.restart_env = (const char *)a;
  g_rt.restart_env_len = len;
}

static int barrier(const char *name) {
  watchdog_stage_barrier(name);
  int r = coord_barrier(name, NULL, 0, NULL, 0);
  watchdog_stage("the plugins' restart events", 1);
  return r;
}

static const char *base_name(const char *path) {
  const char *slash = strrchr(path, '/');
  return slash ? slash + 1 : path;
}

/* ckpt:suspended carries the descriptor list; its reply is the note. */
static int suspended_barrier(const char *final) {
  char *rec;
  size_t cap;
  size_t len = fdlist_record(base_name(final), &rec, &cap);
  restart_note[0] = 0;
  int r = coord_barrier(DMTCP_BARRIER_SUSPENDED, rec, len, restart_note, sizeof restart_note);
  fdlist_free(rec, cap);
  if (r < 0 || g_last_release_len >= sizeof restart_note) restart_note[0] = 0;
  return r;
}

/* The ckpt:written record (DMTCP_WRITTEN_RECORD in dmtcp/records.h): the
 * image, and why it could not be written. */
static size_t written_record(char *rec, size_t cap, const char *tmp, const char *final, const struct image_writer *w,
                             int r, double frozen) {
  struct sbuf sb;
  sb_init(&sb, rec, cap);
  sb_puts(&sb, "{" DMTCP_JSON_KEY(DMTCP_WRITTEN_IMAGE));
  sb_json_str(&sb, final);
  sb_puts(&sb, "," DMTCP_JSON_KEY(DMTCP_WRITTEN_BYTES));
  sb_putu(&sb, w->bytes);
  sb_puts(&sb, "," DMTCP_JSON_KEY(DMTCP_WRITTEN_FROZEN_MS));
  sb_putu(&sb, (uint64_t)frozen);
  if (r != WRITE_OK) {
    sb_puts(&sb, "," DMTCP_JSON_KEY(DMTCP_WRITTEN_TMP));
    sb_json_str(&sb, tmp);
    sb_puts(&sb, "," DMTCP_JSON_KEY(DMTCP_WRITTEN_ERROR));
    if (w->signal) {
      char why[128];
      struct sbuf ws;
      sb_init(&ws, why, sizeof why);
      sb_puts(&ws, "the writing process was killed by signal ");
      sb_putu(&ws, (uint64_t)w->signal);
      sb_puts(&ws, " (");
      sb_puts(&ws, signal_text(w->signal));
      sb_putc(&ws, ')');
      sb_json_str(&sb, sb_cstr(&ws));
    } else {
      sb_json_str(&sb, w->err ? errno_text(w->err) : "image write failed");
    }
    if (w->err) {
      sb_puts(&sb, "," DMTCP_JSON_KEY(DMTCP_WRITTEN_ERRNO));
      sb_putu(&sb, (uint64_t)w->err);
    }
  }
  sb_putc(&sb, '}');
  return sb.len;
}

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
  if (barrier(is_restart ? DMTCP_BARRIER_RESTART_REFILLED : DMTCP_BARRIER_REFILLED) < 0) ok = -1;
  g_rt.ns_phase = ok == 0;
  event_restart_flag(DMTCP_EVENT_REGISTER_NAME_SERVICE_DATA, is_restart);
  if (ok == 0 && barrier(is_restart ? DMTCP_BARRIER_RESTART_REGISTERED : DMTCP_BARRIER_REGISTERED) < 0) ok = -1;
  g_rt.ns_phase = ok == 0;
  event_restart_flag(DMTCP_EVENT_SEND_QUERIES, is_restart);
  g_rt.ns_phase = 0;
  event_restart_flag(DMTCP_EVENT_THREADS_RESUME, is_restart);
  g_rt.round_is_restart = is_restart;
  if (is_restart) procstate_restore_timers();
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

  if (g_d5_count) dmtcp5_deliver(D5_PRESUSPEND, &(struct d5_data){0}, 0);
  threads_suspend_outside_loader();
  mutex_note_checkpoint();
  event_simple(DMTCP_EVENT_THREADS_SUSPEND);
  if (suspended_barrier(final) < 0) goto failed;
  /* Processes may join until this barrier; its release has the final count. */
  if (g_last_release_extra) g_rt.num_peers = g_last_release_extra;
  event_simple(DMTCP_EVENT_SUSPENDED);
  event_simple(DMTCP_EVENT_LEADER_ELECTION);
  if (barrier(DMTCP_BARRIER_LEADER_ELECTION) < 0) goto failed;
  event_simple(DMTCP_EVENT_DRAIN);
  if (barrier(DMTCP_BARRIER_DRAINED) < 0) goto failed;

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
  char rec[2800];
  size_t len = written_record(rec, sizeof rec, tmp, final, &w, r, frozen);
  /* The image only replaces the previous one once every process of the
   * computation has written its own: the coordinator fails the round when
   * any write failed (this one included), and then no process renames. */
  if (!alive || coord_barrier(DMTCP_BARRIER_WRITTEN, rec, len, NULL, 0) < 0 || r != WRITE_OK) {
    sys_unlink(tmp);
    log_msg("checkpoint %lu abandoned; the previous images stay", (unsigned long)g_rt.generation);
    round_over(0);
    return;
  }
  /* Too late to keep the old set whole: say so, so that the checkpoint is
   * not reported complete. */
  struct sbuf sb;
  sb_init(&sb, rec, sizeof rec);
  long renamed = sys_rename(tmp, final);
  if (renamed < 0) {
    int e = (int)-renamed;
    log_msg("cannot rename %s: %s", tmp, errno_text(e));
    sb_puts(&sb, "{" DMTCP_JSON_KEY(DMTCP_RESUMED_ERROR));
    char why[1400];
    struct sbuf ws;
    sb_init(&ws, why, sizeof why);
    sb_puts(&ws, "cannot rename ");
    sb_puts(&ws, base_name(tmp));
    sb_puts(&ws, ": ");
    sb_puts(&ws, errno_text(e));
    sb_json_str(&sb, sb_cstr(&ws));
    sb_putc(&sb, '}');
  }
  fsync_dir(g_rt.ckpt_dir);
  coord_barrier(DMTCP_BARRIER_RESUMED, rec, sb.len, NULL, 0);
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
  /* The kernel's clear-child-tid wake is a shared futex. */
  for (int v; (v = atomic_load(&g_restore_leader)) != 0;) {
    struct timespec tick = {0, 10 * 1000 * 1000};
    sys_futex(&g_restore_leader, FUTEX_WAIT, v, &tick);
  }
  /* Before any thread runs: a lock a thread held at checkpoint is its own
   * again under its new tid. */
  mutex_fix_owners_after_restart();
  clocks_restarted();
  keep_restart_env();
  if (g_restart_info.unmap_end > g_restart_info.unmap_start)
    sys_munmap(g_restart_info.unmap_start, g_restart_info.unmap_end - g_restart_info.unmap_start);
  cmdline_restore();
  g_rt.restart_count++;
  procstate_restore_rest();
  if (g_restart_info.ckpt_dir[0]) {
    size_t n = strnlen(g_restart_info.ckpt_dir, sizeof g_rt.ckpt_dir - 1);
    memcpy(g_rt.ckpt_dir, g_restart_info.ckpt_dir, n);
    g_rt.ckpt_dir[n] = 0;
  }
  coord_set_address(g_restart_info.coord_host, (int)g_restart_info.coord_port);
  watchdog_stage("registering with the coordinator", 0);
  if (connect_and_register(DMTCP_HELLO_RESTART, -1) < 0) {
    log_msg("restart: cannot reach the coordinator at %s:%u", g_restart_info.coord_host, g_restart_info.coord_port);
    sys_exit_group(1);
  }
  g_rt.done_generation = g_rt.generation;
  g_rt.handled_generation = g_rt.generation;
  /* Before any plugin or the program touches those descriptors. */
  if (restart_note[0]) log_msg("%s", restart_note);
  barrier(DMTCP_BARRIER_RESTART_CONNECTED);
  if (resume_phase(1) == 0) barrier(DMTCP_BARRIER_RESTART_DONE);
  watchdog_stop();
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
    long polled = sys_poll(&p, 1, -1);
    if (polled < 0) {
      if (polled == -EINTR) continue;
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
