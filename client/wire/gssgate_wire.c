/* The C client of gssgated's wire transport; the protocol is docs/wire.md, the API
 * gssgate_wire.h. Kept to C, libc and libprotobuf-c: it is linked into the mechglue interposer,
 * which runs inside every GSSAPI program on a host. */
#define _GNU_SOURCE

#include "gssgate_wire.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "gssgate/v1/gssgate.pb-c.h"
#include "gssgate/v1/wire.pb-c.h"

/* As lib/util/protocol.h: a datagram carries at most 128 KiB of payload; the daemon's datagrams
 * are at most 176 KiB. */
#define FRAGMENT_BYTES ((size_t)128 * 1024)
#define MAX_DATAGRAM (FRAGMENT_BYTES + (size_t)48 * 1024)
/* As libgssgate's receive limit on either transport. */
#define MAX_REPLY_BYTES ((size_t)64 << 20)
/* As libgssgate: one call carries at most this many releases (the daemon takes 256). */
#define RELEASES_PER_CALL 128
#define DEFAULT_TIMEOUT_MS 30000
#define WIRE_PREFIX "wire:"

struct release {
  int is_cred;
  size_t len;
  uint8_t* data;
};

struct gssgate_wire {
  pthread_mutex_t mu;
  char path[sizeof(((struct sockaddr_un*)0)->sun_path)];
  int fd;    /* -1: connect at the next call */
  pid_t pid; /* the process that connected fd */
  uint64_t generation;
  uint64_t next_call_id;
  int timeout_ms;
  struct release* queue;
  size_t queued, queue_cap;
  uint8_t* recv_buffer; /* MAX_DATAGRAM + 1, to see a datagram that is too long */
  uint8_t* send_buffer;
  size_t send_cap;
};

static void set_status(gssgate_wire_status* status, uint32_t code, const char* format, ...)
    __attribute__((format(printf, 3, 4)));

static void set_status(gssgate_wire_status* status, uint32_t code, const char* format, ...) {
  status->code = code;
  status->not_run = 0;
  va_list args;
  va_start(args, format);
  vsnprintf(status->message, sizeof(status->message), format, args);
  va_end(args);
}

static void set_ok(gssgate_wire_status* status) {
  status->code = GSSGATE_WIRE_OK;
  status->not_run = 0;
  status->message[0] = '\0';
}

static const ProtobufCMethodDescriptor* find_method(const char* name) {
  if (name == NULL) return NULL;
  return protobuf_c_service_descriptor_get_method_by_name(&gssgate__v1__gssgate__descriptor, name);
}

uint32_t gssgate_wire_method_number(const char* method) {
  const ProtobufCMethodDescriptor* found = find_method(method);
  if (found == NULL) return 0;
  return (uint32_t)(found - gssgate__v1__gssgate__descriptor.methods) + 1;
}

/* ---- connecting ------------------------------------------------------------------------------ */

/* A fresh socket connected to `path`, or -1 with the status filled. connect() on a Unix socket
 * waits while the listener's backlog is full (a daemon stopped or overloaded): at most
 * `timeout_ms`, through SO_SNDTIMEO, which is then reset for the calls. */
static int open_socket(const char* path, int timeout_ms, gssgate_wire_status* status) {
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof(addr));
  addr.sun_family = AF_UNIX;
  const size_t len = strlen(path);
  if (len == 0 || len >= sizeof(addr.sun_path)) {
    set_status(status, GSSGATE_WIRE_INVALID_ARGUMENT,
               "the wire socket path \"%.200s\" is empty or longer than %zu bytes", path,
               sizeof(addr.sun_path) - 1);
    return -1;
  }
  memcpy(addr.sun_path, path, len);
  const int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    set_status(status, GSSGATE_WIRE_UNAVAILABLE, "cannot make a socket: %s", strerror(errno));
    return -1;
  }
  struct timeval wait = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &wait, sizeof(wait));
  if (connect(fd, (struct sockaddr*)&addr, sizeof(addr)) != 0) {
    const int why = errno;
    close(fd);
    if (why == EAGAIN || why == EWOULDBLOCK || why == EINPROGRESS) {
      set_status(status, GSSGATE_WIRE_UNAVAILABLE,
                 "gssgated's wire socket %.200s did not take the connection within %d ms (its "
                 "backlog is full: is gssgated stopped or overloaded?)",
                 path, timeout_ms);
    } else if (why == EPROTOTYPE) {
      set_status(status, GSSGATE_WIRE_INVALID_ARGUMENT,
                 "%.200s is not gssgated's wire socket (it is a stream socket: gssgated's gRPC "
                 "socket?); name the .wire socket (wire_socket in gssgate.conf)",
                 path);
    } else {
      set_status(status, GSSGATE_WIRE_UNAVAILABLE,
                 "cannot connect to gssgated's wire socket %.200s: %s; is gssgated running, and "
                 "may this user open the socket?",
                 path, strerror(why));
    }
    return -1;
  }
  const struct timeval forever = {0, 0};
  (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &forever, sizeof(forever));
  /* Room in the send buffer for the largest datagram, whatever net.core.wmem_default says. */
  const int sndbuf = (int)(2 * MAX_DATAGRAM);
  (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
  return fd;
}

static void drop_queue(gssgate_wire* conn) {
  for (size_t i = 0; i < conn->queued; ++i) free(conn->queue[i].data);
  conn->queued = 0;
}

static void disconnect(gssgate_wire* conn) {
  if (conn->fd >= 0) close(conn->fd);
  conn->fd = -1;
}

/* Connects if the connection is closed or was inherited across fork(). */
static int ensure_connected(gssgate_wire* conn, gssgate_wire_status* status) {
  const pid_t self = getpid();
  if (conn->fd >= 0 && conn->pid != self) {
    /* A forked child shares its parent's socket: calls on it would interleave with the
     * parent's, and the parent's handles are not the child's to use. Close our copy (the
     * parent's connection is untouched) and make one of our own. */
    disconnect(conn);
  }
  if (conn->fd >= 0) {
    /* The daemon closes connections idle past idle_connection_timeout (or it restarted): a
     * socket it has hung up is replaced before the call, rather than failing it. */
    struct pollfd hung = {conn->fd, POLLRDHUP, 0};
    if (poll(&hung, 1, 0) == 1 && (hung.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0) {
      disconnect(conn);
    }
  }
  if (conn->fd >= 0) return 1;
  const int fd = open_socket(conn->path, __atomic_load_n(&conn->timeout_ms, __ATOMIC_RELAXED),
                            status);
  if (fd < 0) return 0;
  /* The daemon released every handle of the old connection, so their releases are moot. */
  drop_queue(conn);
  conn->fd = fd;
  conn->pid = self;
  __atomic_store_n(&conn->generation, conn->generation + 1, __ATOMIC_RELEASE);  /* under mu */
  return 1;
}

gssgate_wire* gssgate_wire_connect(const char* path, gssgate_wire_status* status) {
  return gssgate_wire_connect_within(path, DEFAULT_TIMEOUT_MS, status);
}

gssgate_wire* gssgate_wire_connect_within(const char* path, int milliseconds,
                                          gssgate_wire_status* status) {
  gssgate_wire_status ignored;
  if (status == NULL) status = &ignored;
  if (path == NULL) {
    path = secure_getenv("GSSGATE_SOCKET");
    if (path == NULL || path[0] == '\0') path = GSSGATE_WIRE_DEFAULT_SOCKET;
  }
  if (strncmp(path, WIRE_PREFIX, strlen(WIRE_PREFIX)) == 0) {
    path += strlen(WIRE_PREFIX);
  } else if (strncmp(path, "unix:", 5) == 0) {
    set_status(status, GSSGATE_WIRE_INVALID_ARGUMENT,
               "%.200s names gssgated's gRPC socket; this client speaks the wire protocol: name "
               "the .wire socket",
               path);
    return NULL;
  }
  gssgate_wire* conn = calloc(1, sizeof(*conn));
  if (conn == NULL) {
    set_status(status, GSSGATE_WIRE_RESOURCE_EXHAUSTED, "out of memory");
    return NULL;
  }
  conn->fd = -1;
  conn->next_call_id = 1;
  conn->timeout_ms = milliseconds > 0 ? milliseconds : DEFAULT_TIMEOUT_MS;
  if (strlen(path) >= sizeof(conn->path)) {
    set_status(status, GSSGATE_WIRE_INVALID_ARGUMENT,
               "the wire socket path \"%.200s\" is longer than %zu bytes", path,
               sizeof(conn->path) - 1);
    free(conn);
    return NULL;
  }
  strcpy(conn->path, path);
  conn->recv_buffer = malloc(MAX_DATAGRAM + 1);
  if (conn->recv_buffer == NULL || pthread_mutex_init(&conn->mu, NULL) != 0) {
    free(conn->recv_buffer);
    free(conn);
    set_status(status, GSSGATE_WIRE_RESOURCE_EXHAUSTED, "out of memory");
    return NULL;
  }
  if (!ensure_connected(conn, status)) {
    gssgate_wire_close(conn);
    return NULL;
  }
  set_ok(status);
  return conn;
}

/* Frees the object; its lock is the caller's business. */
static void free_connection(gssgate_wire* conn) {
  disconnect(conn);
  drop_queue(conn);
  free(conn->queue);
  free(conn->recv_buffer);
  free(conn->send_buffer);
  free(conn);
}

void gssgate_wire_close(gssgate_wire* conn) {
  if (conn == NULL) return;
  pthread_mutex_destroy(&conn->mu);
  free_connection(conn);
}

void gssgate_wire_abandon_after_fork(gssgate_wire* conn) {
  if (conn == NULL) return;
  /* The lock is left alone: a thread of the parent may have held it at fork(), and the child
   * has only its own thread, so nothing else can be using the object. */
  free_connection(conn);
}

void gssgate_wire_set_timeout(gssgate_wire* conn, int milliseconds) {
  /* Atomic rather than under the mutex: a call reads it before it takes the mutex, to bound
   * its wait for it. */
  __atomic_store_n(&conn->timeout_ms, milliseconds > 0 ? milliseconds : DEFAULT_TIMEOUT_MS,
                   __ATOMIC_RELAXED);
}

uint64_t gssgate_wire_generation(gssgate_wire* conn) {
  /* Not under the lock: a call in another thread may hold it for its whole timeout, and the
   * interposer asks for the generation on every call with a handle. */
  return __atomic_load_n(&conn->generation, __ATOMIC_ACQUIRE);
}

/* ---- releases -------------------------------------------------------------------------------- */

static uint32_t queue_release(gssgate_wire* conn, int is_cred, const uint8_t* handle, size_t len) {
  if (handle == NULL || len == 0) return GSSGATE_WIRE_OK;
  uint8_t* copy = malloc(len);
  if (copy == NULL) return GSSGATE_WIRE_RESOURCE_EXHAUSTED;
  memcpy(copy, handle, len);
  pthread_mutex_lock(&conn->mu);
  if (conn->queued == conn->queue_cap) {
    const size_t cap = conn->queue_cap == 0 ? 16 : 2 * conn->queue_cap;
    struct release* grown = realloc(conn->queue, cap * sizeof(*grown));
    if (grown == NULL) {
      pthread_mutex_unlock(&conn->mu);
      free(copy);
      return GSSGATE_WIRE_RESOURCE_EXHAUSTED;
    }
    conn->queue = grown;
    conn->queue_cap = cap;
  }
  conn->queue[conn->queued++] = (struct release){is_cred, len, copy};
  pthread_mutex_unlock(&conn->mu);
  return GSSGATE_WIRE_OK;
}

uint32_t gssgate_wire_release_context(gssgate_wire* conn, const uint8_t* handle, size_t len) {
  return queue_release(conn, 0, handle, len);
}

uint32_t gssgate_wire_release_cred(gssgate_wire* conn, const uint8_t* handle, size_t len) {
  return queue_release(conn, 1, handle, len);
}

size_t gssgate_wire_pending_releases(gssgate_wire* conn) {
  pthread_mutex_lock(&conn->mu);
  const size_t queued = conn->queued;
  pthread_mutex_unlock(&conn->mu);
  return queued;
}

/* Forgets the first `n` queued releases (the daemon processed them). */
static void pop_releases(gssgate_wire* conn, size_t n) {
  for (size_t i = 0; i < n; ++i) free(conn->queue[i].data);
  memmove(conn->queue, conn->queue + n, (conn->queued - n) * sizeof(*conn->queue));
  conn->queued -= n;
}

/* ---- one call -------------------------------------------------------------------------------- */

static int millis_left(const struct timespec* deadline) {
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  /* Rounded up: a call never gives up before its deadline. */
  const long long left_ns = (long long)(deadline->tv_sec - now.tv_sec) * 1000000000 +
                            (deadline->tv_nsec - now.tv_nsec);
  const long long left = (left_ns + 999999) / 1000000;
  if (left <= 0) return 0;
  return left > (1 << 30) ? (1 << 30) : (int)left;
}

static int send_datagram(gssgate_wire* conn, const ProtobufCMessage* frame,
                         const struct timespec* deadline) {
  const size_t size = protobuf_c_message_get_packed_size(frame);
  if (size > conn->send_cap) {
    uint8_t* grown = realloc(conn->send_buffer, size);
    if (grown == NULL) {
      errno = ENOMEM;
      return 0;
    }
    conn->send_buffer = grown;
    conn->send_cap = size;
  }
  protobuf_c_message_pack(frame, conn->send_buffer);
  for (;;) {
    /* Non-blocking, waiting for room until the call's deadline: a daemon that stopped reading
     * must not hold the caller (and the connection's lock) for good. */
    const ssize_t sent = send(conn->fd, conn->send_buffer, size, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (sent == (ssize_t)size) return 1;
    if (sent >= 0) {
      errno = EMSGSIZE; /* a datagram goes whole or not at all */
      return 0;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return 0;
    struct pollfd writable = {conn->fd, POLLOUT, 0};
    const int ready = poll(&writable, 1, millis_left(deadline));
    if (ready == 0) {
      errno = ETIMEDOUT;
      return 0;
    }
    if (ready < 0 && errno != EINTR) return 0;
  }
}

/* Sends the request's fragments; the first carries up to RELEASES_PER_CALL queued releases.
 * Returns how many releases it carried through *carried. */
static int send_request(gssgate_wire* conn, uint32_t number, uint64_t call_id,
                        const uint8_t* payload, size_t len, size_t* carried,
                        const struct timespec* deadline) {
  size_t n_contexts = 0, n_creds = 0;
  *carried = conn->queued < RELEASES_PER_CALL ? conn->queued : RELEASES_PER_CALL;
  ProtobufCBinaryData contexts[RELEASES_PER_CALL], creds[RELEASES_PER_CALL];
  for (size_t i = 0; i < *carried; ++i) {
    const struct release* r = &conn->queue[i];
    ProtobufCBinaryData handle = {r->len, r->data};
    if (r->is_cred) {
      creds[n_creds++] = handle;
    } else {
      contexts[n_contexts++] = handle;
    }
  }
  Gssgate__V1__Releases releases = GSSGATE__V1__RELEASES__INIT;
  releases.n_contexts = n_contexts;
  releases.contexts = contexts;
  releases.n_creds = n_creds;
  releases.creds = creds;

  size_t offset = 0;
  do {
    const size_t part = len - offset < FRAGMENT_BYTES ? len - offset : FRAGMENT_BYTES;
    Gssgate__V1__Frame frame = GSSGATE__V1__FRAME__INIT;
    frame.method = number;
    frame.call_id = call_id;
    frame.payload.len = part;
    frame.payload.data = (uint8_t*)(payload + offset);
    frame.continued = offset + part < len;
    if (offset == 0 && *carried > 0) frame.release = &releases;
    if (!send_datagram(conn, &frame.base, deadline)) return 0;
    offset += part;
  } while (offset < len);
  return 1;
}

/* One attempt of a call: the request sent, its reply read, all before `deadline`. */
static uint32_t call_once(gssgate_wire* conn, uint32_t method_number, const uint8_t* request,
                          size_t request_len, uint8_t** reply, size_t* reply_len,
                          gssgate_wire_status* status, const struct timespec* deadline_in) {
  const struct timespec deadline = *deadline_in;
  if (pthread_mutex_timedlock(&conn->mu, &deadline) != 0) {
    set_status(status, GSSGATE_WIRE_DEADLINE_EXCEEDED,
               "the connection's earlier calls did not finish before this call's deadline");
    return GSSGATE_WIRE_DEADLINE_EXCEEDED;
  }
  uint32_t code = GSSGATE_WIRE_OK;
  uint8_t* body = NULL;
  size_t body_len = 0;
  Gssgate__V1__Frame* head = NULL;

  if (!ensure_connected(conn, status)) {
    code = status->code;
    goto out;
  }
  const uint64_t call_id = conn->next_call_id++;
  size_t carried = 0;
  if (!send_request(conn, method_number, call_id, request, request_len, &carried, &deadline)) {
    const int why = errno;
    disconnect(conn);
    if (why == ETIMEDOUT) {
      set_status(status, code = GSSGATE_WIRE_DEADLINE_EXCEEDED,
                 "gssgated did not take the request within the call's timeout");
    } else if (why == EMSGSIZE) {
      set_status(status, code = GSSGATE_WIRE_RESOURCE_EXHAUSTED,
                 "a request fragment does not fit the socket's send buffer");
    } else {
      set_status(status, code = GSSGATE_WIRE_UNAVAILABLE, "the wire connection broke: %s",
                 strerror(why));
    }
    goto out;
  }
  for (;;) {
    struct pollfd readable = {conn->fd, POLLIN, 0};
    const int ready = poll(&readable, 1, millis_left(&deadline));
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) {
      set_status(status, code = GSSGATE_WIRE_UNAVAILABLE, "cannot wait for gssgated's reply: %s",
                 strerror(errno));
      disconnect(conn);
      goto out;
    }
    if (ready == 0) {
      /* The reply may still come; the next call skips it by its call id. */
      set_status(status, code = GSSGATE_WIRE_DEADLINE_EXCEEDED,
                 "gssgated did not answer within the call's timeout");
      goto out;
    }
    const ssize_t n = recv(conn->fd, conn->recv_buffer, MAX_DATAGRAM + 1, MSG_TRUNC);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const char* why = n == 0 ? "gssgated closed the connection" : strerror(errno);
      set_status(status, code = GSSGATE_WIRE_UNAVAILABLE, "the wire connection broke: %s", why);
      disconnect(conn);
      goto out;
    }
    if ((size_t)n > MAX_DATAGRAM) {
      set_status(status, code = GSSGATE_WIRE_INTERNAL,
                 "gssgated sent a datagram of %zd bytes, more than the protocol's %zu", n,
                 MAX_DATAGRAM);
      disconnect(conn);
      goto out;
    }
    Gssgate__V1__Frame* frame = gssgate__v1__frame__unpack(NULL, (size_t)n, conn->recv_buffer);
    if (frame == NULL) {
      set_status(status, code = GSSGATE_WIRE_INTERNAL,
                 "gssgated sent a datagram that is not a gssgate.v1.Frame");
      disconnect(conn);
      goto out;
    }
    if (frame->call_id != call_id) {
      if (frame->call_id == 0 && frame->code != 0) {
        /* The daemon could not read our frame at all, and closes the connection. */
        set_status(status, code = frame->code, "%s", frame->message);
        gssgate__v1__frame__free_unpacked(frame, NULL);
        disconnect(conn);
        goto out;
      }
      gssgate__v1__frame__free_unpacked(frame, NULL); /* the late reply of a timed-out call */
      continue;
    }
    if (body_len + frame->payload.len > MAX_REPLY_BYTES) {
      gssgate__v1__frame__free_unpacked(frame, NULL);
      set_status(status, code = GSSGATE_WIRE_RESOURCE_EXHAUSTED,
                 "gssgated's reply is longer than %zu bytes", MAX_REPLY_BYTES);
      disconnect(conn);
      goto out;
    }
    if (frame->payload.len > 0) {
      uint8_t* grown = realloc(body, body_len + frame->payload.len);
      if (grown == NULL) {
        gssgate__v1__frame__free_unpacked(frame, NULL);
        set_status(status, code = GSSGATE_WIRE_RESOURCE_EXHAUSTED, "out of memory");
        /* The rest of the reply is still on the socket; a fresh connection is clean. */
        disconnect(conn);
        goto out;
      }
      body = grown;
      memcpy(body + body_len, frame->payload.data, frame->payload.len);
      body_len += frame->payload.len;
    }
    const int more = frame->continued;
    if (head == NULL) {
      head = frame; /* its fields (code, message, released, not_run) describe the reply */
    } else {
      gssgate__v1__frame__free_unpacked(frame, NULL);
    }
    if (!more) break;
  }
  if (head->released) pop_releases(conn, carried);
  if (head->code != 0) {
    set_status(status, code = head->code, "%s", head->message);
    status->not_run = head->not_run;
    goto out;
  }
  set_ok(status);
  *reply = body;
  *reply_len = body_len;
  body = NULL;

out:
  pthread_mutex_unlock(&conn->mu);
  if (head != NULL) gssgate__v1__frame__free_unpacked(head, NULL);
  free(body);
  return code;
}

static struct timespec add_micros(struct timespec t, long long micros) {
  t.tv_sec += micros / 1000000;
  t.tv_nsec += (long)(micros % 1000000) * 1000;
  if (t.tv_nsec >= 1000000000) {
    t.tv_sec++;
    t.tv_nsec -= 1000000000;
  }
  return t;
}

static int before(const struct timespec* a, const struct timespec* b) {
  return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

uint32_t gssgate_wire_call_raw(gssgate_wire* conn, uint32_t method_number, const uint8_t* request,
                               size_t request_len, uint8_t** reply, size_t* reply_len,
                               gssgate_wire_status* status) {
  gssgate_wire_status ignored;
  if (status == NULL) status = &ignored;
  *reply = NULL;
  *reply_len = 0;
  struct timespec started;
  clock_gettime(CLOCK_REALTIME, &started);
  const struct timespec deadline =
      add_micros(started, 1000LL * __atomic_load_n(&conn->timeout_ms, __ATOMIC_RELAXED));
  /* A call the daemon refused before running it (the uid's share of its threads was busy) is
   * made again, as libgssgate does: 1 ms doubling to 64 ms, each with up to half again of
   * jitter so that refused callers do not come back in step, until the call's deadline. */
  static __thread unsigned jitter_seed;
  if (jitter_seed == 0) jitter_seed = (unsigned)started.tv_nsec ^ (unsigned)getpid() ^ 1u;
  for (int attempt = 0;; ++attempt) {
    const uint32_t code = call_once(conn, method_number, request, request_len, reply, reply_len,
                                    status, &deadline);
    if (code == GSSGATE_WIRE_OK || !status->not_run) return code;
    const long base_us = 1000L << (attempt < 6 ? attempt : 6);
    const long wait_us = base_us + (long)(rand_r(&jitter_seed) % (unsigned)(base_us / 2 + 1));
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    const struct timespec woken = add_micros(now, wait_us);
    if (!before(&woken, &deadline)) {
      const long long spent_ms = (long long)(now.tv_sec - started.tv_sec) * 1000 +
                                 (now.tv_nsec - started.tv_nsec) / 1000000;
      const size_t used = strnlen(status->message, sizeof(status->message));
      snprintf(status->message + used, sizeof(status->message) - used,
               " (made the call %d times over %lld ms, until its deadline)", attempt + 1,
               spent_ms);
      return code;
    }
    const struct timespec pause = {wait_us / 1000000, (wait_us % 1000000) * 1000};
    nanosleep(&pause, NULL);
  }
}

uint32_t gssgate_wire_call(gssgate_wire* conn, const char* method, const ProtobufCMessage* request,
                           ProtobufCMessage** reply, gssgate_wire_status* status) {
  gssgate_wire_status ignored;
  if (status == NULL) status = &ignored;
  *reply = NULL;
  const ProtobufCMethodDescriptor* found = find_method(method);
  if (found == NULL) {
    set_status(status, GSSGATE_WIRE_UNIMPLEMENTED, "gssgate.v1.Gssgate has no method \"%.100s\"",
               method == NULL ? "(null)" : method);
    return GSSGATE_WIRE_UNIMPLEMENTED;
  }
  if (request == NULL || request->descriptor != found->input) {
    set_status(status, GSSGATE_WIRE_INVALID_ARGUMENT, "%s takes a %s, not a %s", found->name,
               found->input->name, request == NULL ? "NULL" : request->descriptor->name);
    return GSSGATE_WIRE_INVALID_ARGUMENT;
  }
  const size_t size = protobuf_c_message_get_packed_size(request);
  uint8_t* packed = malloc(size > 0 ? size : 1);
  if (packed == NULL) {
    set_status(status, GSSGATE_WIRE_RESOURCE_EXHAUSTED, "out of memory");
    return GSSGATE_WIRE_RESOURCE_EXHAUSTED;
  }
  protobuf_c_message_pack(request, packed);
  uint8_t* raw = NULL;
  size_t raw_len = 0;
  const uint32_t code = gssgate_wire_call_raw(conn, gssgate_wire_method_number(method), packed,
                                              size, &raw, &raw_len, status);
  free(packed);
  if (code != GSSGATE_WIRE_OK) return code;
  *reply = protobuf_c_message_unpack(found->output, NULL, raw_len, raw);
  free(raw);
  if (*reply == NULL) {
    set_status(status, GSSGATE_WIRE_INTERNAL, "gssgated's reply is not a %s", found->output->name);
    return GSSGATE_WIRE_INTERNAL;
  }
  return GSSGATE_WIRE_OK;
}

/* ---- InitSecContextRequest.flags ------------------------------------------------------------- */

void gssgate_wire_set_init_flags(ProtobufCMessage* request, uint32_t flags) {
  /* Field 5 as a varint 0: the daemon's parser sees the field present, with value 0. */
  static uint8_t zero = 0;
  static ProtobufCMessageUnknownField explicit_zero = {5, PROTOBUF_C_WIRE_TYPE_VARINT, 1, &zero};
  Gssgate__V1__InitSecContextRequest* init = (Gssgate__V1__InitSecContextRequest*)request;
  init->flags = flags;
  if (flags == 0) {
    request->n_unknown_fields = 1;
    request->unknown_fields = &explicit_zero;
  } else {
    request->n_unknown_fields = 0;
    request->unknown_fields = NULL;
  }
}
