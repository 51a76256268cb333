/*
 * gssgate_wire: a C client of gssgated's wire transport (docs/wire.md), for code that cannot
 * carry a C++ runtime or gRPC: the mechglue interposer (issue 16) lives inside every GSSAPI
 * program on a host, and only this library and libprotobuf-c go with it.
 *
 * It speaks the gssgate.v1 service as framed protobuf over a SOCK_SEQPACKET Unix socket. The
 * messages are protobuf-c's (gssgate/v1/gssgate.pb-c.h, generated at build time from
 * proto/gssgate/v1/gssgate.proto); a call names its method, sends a request message and gets the
 * method's reply message back, or a status saying what failed and what to do.
 *
 * One connection (gssgate_wire) serves one call at a time; threads sharing it take turns (a
 * mutex). Handles the daemon returns belong to the connection that made them and die with it:
 * when the connection breaks, or the process forks, the next call connects again and
 * gssgate_wire_generation() changes, so a holder of handles can tell they are gone. (A child
 * forked while another thread of its parent was inside a call inherits the held mutex, as with
 * any lock: its calls on that connection wait out their timeout. Such a child connects anew.)
 *
 * No function prints, aborts, installs signal handlers or keeps global state.
 */
#ifndef GSSGATE_WIRE_H
#define GSSGATE_WIRE_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The daemon's default wire socket, when neither a path nor GSSGATE_SOCKET names one. */
#define GSSGATE_WIRE_DEFAULT_SOCKET "/run/gssgate/gssgate.wire"

/* Status codes: the canonical codes gRPC and absl use, so the two transports agree. */
enum {
  GSSGATE_WIRE_OK = 0,
  GSSGATE_WIRE_INVALID_ARGUMENT = 3,
  GSSGATE_WIRE_DEADLINE_EXCEEDED = 4,
  GSSGATE_WIRE_NOT_FOUND = 5,
  GSSGATE_WIRE_PERMISSION_DENIED = 7,
  GSSGATE_WIRE_RESOURCE_EXHAUSTED = 8,
  GSSGATE_WIRE_UNIMPLEMENTED = 12,
  GSSGATE_WIRE_INTERNAL = 13,
  GSSGATE_WIRE_UNAVAILABLE = 14
};

typedef struct gssgate_wire_status {
  /* GSSGATE_WIRE_* (or another canonical code the daemon sent); 0 when the call ran. A call
   * that ran can still report a GSSAPI failure: that is in the reply's own `status` field. */
  uint32_t code;
  /* Non-zero: the daemon refused the call before running it (the caller's uid had its share of
   * the daemon's threads busy), so making it again is safe. */
  int not_run;
  /* What failed and what to do; empty when code is 0. Never holds token or key bytes. */
  char message[512];
} gssgate_wire_status;

typedef struct gssgate_wire gssgate_wire;

/*
 * Connects to the wire socket at `path`. NULL means: $GSSGATE_SOCKET (read with secure_getenv,
 * so a setuid program never takes it from its caller; a "wire:" prefix is allowed), else
 * GSSGATE_WIRE_DEFAULT_SOCKET. Returns NULL and fills `status` (if not NULL) when the socket
 * cannot be reached or is not a wire socket.
 */
gssgate_wire* gssgate_wire_connect(const char* path, gssgate_wire_status* status);

/* The same, with `milliseconds` as the connection's timeout (gssgate_wire_set_timeout) from the
 * start: connecting waits at most that long for a daemon whose backlog is full, as every call
 * does for its reply. gssgate_wire_connect uses the default (30 s). */
gssgate_wire* gssgate_wire_connect_within(const char* path, int milliseconds,
                                          gssgate_wire_status* status);

/* Closes the connection; the daemon releases every handle it made. NULL is allowed. */
void gssgate_wire_close(gssgate_wire* conn);

/* In a forked child: frees a connection inherited from the parent without touching its lock
 * (which a thread of the parent may have held at fork()), closing only the child's copy of the
 * socket. For a holder that makes the child a connection of its own instead, as the interposer
 * does. */
void gssgate_wire_abandon_after_fork(gssgate_wire* conn);

/* How long a call may take, from when it is made until its whole reply is in (default 30 s).
 * A call that takes longer fails with DEADLINE_EXCEEDED; its late reply is skipped. */
void gssgate_wire_set_timeout(gssgate_wire* conn, int milliseconds);

/* 1, 2, ... : how many times this connection has connected to the daemon. Handles made while it
 * had one value are gone once it has another. */
uint64_t gssgate_wire_generation(gssgate_wire* conn);

/* The wire number of a method of service gssgate.v1.Gssgate ("WhoAmI", "InitSecContext", ...):
 * 1 + its index in the service; 0 if there is no such method. */
uint32_t gssgate_wire_method_number(const char* method);

/*
 * Calls `method` with `request`, which must be the method's request message. On success returns
 * 0 and sets *reply to the method's reply message, which the caller frees with
 * protobuf_c_message_free_unpacked(*reply, NULL). Otherwise returns the status code, fills
 * `status` (if not NULL) and leaves *reply NULL. A call the daemon refused before running it
 * (status.not_run) is made again after a short, growing, jittered pause until the timeout; the
 * status of the last attempt says how many were made.
 */
uint32_t gssgate_wire_call(gssgate_wire* conn, const char* method, const ProtobufCMessage* request,
                           ProtobufCMessage** reply, gssgate_wire_status* status);

/* The same with serialized messages: the method by number, the reply in a malloc'ed buffer the
 * caller frees with free() (*reply may be NULL when *reply_len is 0). */
uint32_t gssgate_wire_call_raw(gssgate_wire* conn, uint32_t method_number, const uint8_t* request,
                               size_t request_len, uint8_t** reply, size_t* reply_len,
                               gssgate_wire_status* status);

/*
 * Releases a context or credential handle without a call of its own: the release rides on the
 * connection's next call (at most 128 per call), as libgssgate does. Releases queued under an
 * older generation are dropped, as the daemon released those handles with that connection.
 * Returns 0, or RESOURCE_EXHAUSTED when memory runs out (the handle then lives until the
 * connection closes).
 */
uint32_t gssgate_wire_release_context(gssgate_wire* conn, const uint8_t* handle, size_t len);
uint32_t gssgate_wire_release_cred(gssgate_wire* conn, const uint8_t* handle, size_t len);
/* How many releases wait for the next call. */
size_t gssgate_wire_pending_releases(gssgate_wire* conn);

/*
 * InitSecContextRequest.flags has presence in gssgate.proto (unset: mutual | sequence, as
 * python-gssapi), which protoc-c 1.4 cannot express; its C message has a plain `flags`, and 0
 * there means unset. This sets the requested flags so that 0 travels as an explicit 0.
 * `request` must be a Gssgate__V1__InitSecContextRequest; a request set up this way must not
 * be freed with protobuf_c_message_free_unpacked (it never is: requests are the caller's).
 */
void gssgate_wire_set_init_flags(ProtobufCMessage* request, uint32_t flags);

#ifdef __cplusplus
}
#endif

#endif /* GSSGATE_WIRE_H */
