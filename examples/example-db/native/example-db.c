/* Publish/subscribe between the processes of one computation: a process
 * that forked once ("parent") and its child ("child").
 *
 * At every resume and restart each process publishes, under a key naming its
 * role, what only it knows (its unique id, its current pid, how many images
 * it has written, whether it was restarted) during
 * DMTCP_EVENT_REGISTER_NAME_SERVICE_DATA; the coordinator holds a global
 * barrier before DMTCP_EVENT_SEND_QUERIES, so by then the other process has
 * published and its value can be looked up.  This is how real plugins find
 * their peers again after a restart, when pids, ports and hosts have changed:
 * the keys must be names that survive a restart, hence roles, not pids.
 *
 * The SEND_QUERIES handler also shows the answers a query can get besides a
 * value: DMTCP_NS_NOT_FOUND for a key nobody published and
 * DMTCP_NS_BUFFER_TOO_SMALL (with the size needed) for a short buffer.
 *
 * Everything is reported with dmtcp_log: these handlers run in the
 * checkpoint thread while the application's threads are stopped, perhaps
 * holding the stdio lock.  snprintf into a local buffer is fine: it touches
 * no stream, and %s/%d need no allocation. */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "dmtcp/plugin.h"

#define KEY_PREFIX "example-db:"

/* The launched process is the parent; ATFORK_CHILD renames the child. */
static const char *role = "parent";
static const char *peer = "child";
/* Images this process has written; part of the image, so a restarted process
 * knows which checkpoint it came from. */
static int images_written;
static int restarted;

static void key_for(const char *who, char *out, size_t cap) { snprintf(out, cap, KEY_PREFIX "%s", who); }

static void publish(void) {
  char key[64], val[256];
  key_for(role, key, sizeof key);
  snprintf(val, sizeof val, "role=%s upid=%s pid=%d ckpt=%d restart=%d", role, dmtcp_get_uniquepid_str(),
           (int)getpid(), images_written, restarted);
  int rc = dmtcp_send_key_val_pair_to_coordinator(key, strlen(key), val, strlen(val));
  dmtcp_log("example-db: role=%s ckpt=%d restart=%d: publish %s = \"%s\" rc=%d", role, images_written, restarted, key,
            val, rc);
}

static void query(void) {
  char key[64], val[256];
  size_t len;

  key_for("nobody", key, sizeof key);
  len = sizeof val;
  int rc = dmtcp_send_query_to_coordinator(key, strlen(key), val, &len);
  dmtcp_log("example-db: role=%s ckpt=%d restart=%d: query %s rc=%d", role, images_written, restarted, key, rc);

  key_for(peer, key, sizeof key);
  char tiny[4];
  len = sizeof tiny;
  rc = dmtcp_send_query_to_coordinator(key, strlen(key), tiny, &len);
  dmtcp_log("example-db: role=%s ckpt=%d restart=%d: query %s with %zu bytes rc=%d needed=%zu", role, images_written,
            restarted, key, sizeof tiny, rc, len);

  len = sizeof val - 1; /* room for the terminating NUL: values are not NUL-terminated */
  rc = dmtcp_send_query_to_coordinator(key, strlen(key), val, &len);
  if (rc == DMTCP_NS_OK) {
    val[len] = 0;
    dmtcp_log("example-db: role=%s ckpt=%d restart=%d: query %s rc=%d value=\"%s\" (%zu bytes)", role, images_written,
              restarted, key, rc, val, len);
  } else {
    dmtcp_log("example-db: role=%s ckpt=%d restart=%d: query %s rc=%d", role, images_written, restarted, key, rc);
  }
}

/* Once the name-service events are over, both calls must refuse. */
static void outside(void) {
  char key[64], val[16];
  size_t len = sizeof val;
  key_for(peer, key, sizeof key);
  int put = dmtcp_send_key_val_pair_to_coordinator(key, strlen(key), "x", 1);
  int get = dmtcp_send_query_to_coordinator(key, strlen(key), val, &len);
  dmtcp_log("example-db: role=%s ckpt=%d restart=%d: outside the name-service events publish rc=%d query rc=%d", role,
            images_written, restarted, put, get);
}

void dmtcp_process_event(DmtcpEvent_t event, DmtcpEventData_t *data) {
  switch (event) {
    case DMTCP_EVENT_ATFORK_CHILD:
      role = "child";
      peer = "parent";
      break;
    case DMTCP_EVENT_WRITE_CKPT:
      images_written++;
      break;
    default:
      break;
  }
  NEXT_DMTCP_PROCESS_EVENT(event, data);
  /* After passing the event on: the plugins loaded later (the built-in ones
   * among them) have restored what they own by now. */
  switch (event) {
    case DMTCP_EVENT_REGISTER_NAME_SERVICE_DATA:
      restarted = data->nameserviceInfo.isRestart;
      publish();
      break;
    case DMTCP_EVENT_SEND_QUERIES:
      query();
      break;
    case DMTCP_EVENT_THREADS_RESUME:
      outside();
      break;
    default:
      break;
  }
}
