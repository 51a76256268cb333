/* The gssgate interposer: enabling, the daemon connection, statuses and names. Credentials and
 * security contexts are in sec_context.c. docs/transparent.md says how MIT loads it. */
#define _GNU_SOURCE

#include "interposer.h"

#include <com_err.h>
#include <errno.h>
#include <gssapi/gssapi_krb5.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- enabling -------------------------------------------------------------------------------- */

/* MODE_FALLBACK: as MODE_ON, but what gssgated cannot serve runs on MIT's own krb5 (local.c). */
enum mode { MODE_UNKNOWN, MODE_OFF, MODE_ON, MODE_FALLBACK };

/* How long the policy question below may take: it runs at the first GSSAPI call of every program
 * that loads the module without an opt-in or opt-out of its own, so a daemon that does not answer
 * must not hold them up for the wire client's usual timeout. */
enum { POLICY_QUESTION_TIMEOUT_MS = 1000 };

/* A program without GSSGATE_INTERPOSE in its environment interposes when gssgated's policy says
 * so: the rule that matches it (uid, gid, cgroup) grants "interpose" in WhoAmI. No daemon, no
 * rule, no answer in time: MIT's own krb5 runs, as without the module. The question's own
 * connection is closed; an opted-in program makes its working one at its first call. */
static int policy_opts_in(void) {
  gssgate_wire_status status;
  gssgate_wire* conn = gssgate_wire_connect_within(NULL, POLICY_QUESTION_TIMEOUT_MS, &status);
  if (conn == NULL) return 0;
  Gssgate__V1__WhoAmIRequest request = GSSGATE__V1__WHO_AM_IREQUEST__INIT;
  ProtobufCMessage* reply = NULL;
  int granted = 0;
  if (gssgate_wire_call(conn, "WhoAmI", &request.base, &reply, &status) == GSSGATE_WIRE_OK) {
    const Gssgate__V1__WhoAmIReply* me = (const Gssgate__V1__WhoAmIReply*)reply;
    for (size_t i = 0; i < me->n_grants; ++i) {
      if (strcmp(me->grants[i], "interpose") == 0) granted = 1;
    }
    protobuf_c_message_free_unpacked(reply, NULL);
  }
  gssgate_wire_close(conn);
  return granted;
}

static enum mode interpose_mode(void) {
  /* Decided once per process: MIT asks again at later updates of its mechanism list. */
  static enum mode decided = MODE_UNKNOWN;
  enum mode mode = __atomic_load_n(&decided, __ATOMIC_ACQUIRE);
  if (mode != MODE_UNKNOWN) return mode;
  /* secure_getenv: a setuid or otherwise AT_SECURE program never opts in or out through its
   * caller's environment (and its wire socket is the default one); for it, only the policy
   * decides. gssgated sets GSSGATE_INTERPOSE=0 for itself, and is named here as well, so the
   * daemon never sends its own GSSAPI calls to itself. */
  const char* setting = secure_getenv("GSSGATE_INTERPOSE");
  if (strcmp(program_invocation_short_name, "gssgated") == 0) {
    mode = MODE_OFF;
  } else if (setting != NULL && (strcmp(setting, "1") == 0 || strcmp(setting, "yes") == 0)) {
    mode = MODE_ON;
  } else if (setting != NULL && strcmp(setting, "fallback") == 0) {
    mode = MODE_FALLBACK;
  } else if (setting == NULL || setting[0] == '\0') {
    mode = policy_opts_in() ? MODE_ON : MODE_OFF;
  } else {
    mode = MODE_OFF; /* "0", "no", or a value this module does not know */
  }
  __atomic_store_n(&decided, mode, __ATOMIC_RELEASE);
  return mode;
}

int gg_fallback_mode(void) { return interpose_mode() == MODE_FALLBACK; }

/* Our own OID as MIT's mech config names it (the argument of gss_mech_interposer), kept for
 * gg_local_mech. */
static unsigned char own_oid_bytes[64];
static OM_uint32 own_oid_length;

/* MIT calls this with its mechanism-list lock held: nothing here may call a GSSAPI function that
 * selects a mechanism (only the OID-set helpers, which do not). */
GG_EXPORT gss_OID_set gss_mech_interposer(gss_OID mech_type) {
  if (interpose_mode() == MODE_OFF) return GSS_C_NO_OID_SET;
  if (mech_type == GSS_C_NO_OID || mech_type->length > sizeof(own_oid_bytes)) {
    return GSS_C_NO_OID_SET;
  }
  memcpy(own_oid_bytes, mech_type->elements, mech_type->length);
  own_oid_length = mech_type->length;
  /* krb5 under its three OIDs. SPNEGO stays in the process and reaches us through its inner
   * krb5 calls; IAKERB is not offered by gssgated. */
  OM_uint32 minor;
  gss_OID_set set = GSS_C_NO_OID_SET;
  if (gss_create_empty_oid_set(&minor, &set) != GSS_S_COMPLETE) return GSS_C_NO_OID_SET;
  const gss_OID mechs[] = {gss_mech_krb5, gss_mech_krb5_old, gss_mech_krb5_wrong};
  for (size_t i = 0; i < sizeof(mechs) / sizeof(mechs[0]); ++i) {
    if (gss_add_oid_set_member(&minor, mechs[i], &set) != GSS_S_COMPLETE) {
      gss_release_oid_set(&minor, &set);
      return GSS_C_NO_OID_SET;
    }
  }
  return set;
}

/* ---- OIDs ------------------------------------------------------------------------------------ */

static int oid_bytes_equal(const gss_OID oid, const void* bytes, size_t len) {
  return oid != GSS_C_NO_OID && oid->length == len && memcmp(oid->elements, bytes, len) == 0;
}

gss_OID gg_static_mech(const ProtobufCBinaryData* bytes) {
  const gss_OID mechs[] = {gss_mech_krb5, gss_mech_krb5_old, gss_mech_krb5_wrong};
  for (size_t i = 0; i < sizeof(mechs) / sizeof(mechs[0]); ++i) {
    if (oid_bytes_equal(mechs[i], bytes->data, bytes->len)) return mechs[i];
  }
  /* An empty mech field means krb5 (gssgate.proto). */
  return bytes->len == 0 ? gss_mech_krb5 : GSS_C_NO_OID;
}

/* A name type the daemon reported, as the library constant MIT's own krb5 mechanism returns
 * (the mechglue releases a name's type with gss_release_oid, which must find it static). */
static gss_OID static_name_type(const ProtobufCBinaryData* bytes) {
  const gss_OID types[] = {GSS_KRB5_NT_PRINCIPAL_NAME, GSS_C_NT_HOSTBASED_SERVICE,
                           GSS_C_NT_USER_NAME,         GSS_C_NT_EXPORT_NAME,
                           GSS_C_NT_ANONYMOUS,         GSS_C_NT_COMPOSITE_EXPORT};
  for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); ++i) {
    if (oid_bytes_equal(types[i], bytes->data, bytes->len)) return types[i];
  }
  return GSS_C_NO_OID;
}

/* Our OID followed by each interposed mechanism's, made once (after gss_mech_interposer, which
 * MIT always calls first); the pointers stay valid for the life of the process. */
static struct {
  gss_OID_desc oid;
  unsigned char bytes[96];
} local_mechs[3];
static pthread_once_t local_mechs_once = PTHREAD_ONCE_INIT;

static void make_local_mechs(void) {
  const gss_OID mechs[] = {gss_mech_krb5, gss_mech_krb5_old, gss_mech_krb5_wrong};
  for (size_t i = 0; i < 3; ++i) {
    memcpy(local_mechs[i].bytes, own_oid_bytes, own_oid_length);
    memcpy(local_mechs[i].bytes + own_oid_length, mechs[i]->elements, mechs[i]->length);
    local_mechs[i].oid.length = own_oid_length + mechs[i]->length;
    local_mechs[i].oid.elements = local_mechs[i].bytes;
  }
}

gss_OID gg_local_mech(gss_const_OID mech) {
  pthread_once(&local_mechs_once, make_local_mechs);
  const gss_OID mechs[] = {gss_mech_krb5, gss_mech_krb5_old, gss_mech_krb5_wrong};
  for (size_t i = 0; i < 3; ++i) {
    if (mech != GSS_C_NO_OID && mechs[i]->length == mech->length &&
        memcmp(mechs[i]->elements, mech->elements, mech->length) == 0) {
      return &local_mechs[i].oid;
    }
  }
  return &local_mechs[0].oid;
}

/* ---- errors ---------------------------------------------------------------------------------- */

/* The last failure of ours on this thread, for gssi_display_status: MIT asks for the text of a
 * minor code right after the call that returned it, on the same thread. */
static __thread OM_uint32 last_minor;
static __thread char last_text[600];

void gg_set_error(OM_uint32 minor, const char* format, ...) {
  last_minor = minor;
  va_list args;
  va_start(args, format);
  vsnprintf(last_text, sizeof(last_text), format, args);
  va_end(args);
}

static const char* fixed_text(OM_uint32 minor) {
  switch (minor) {
    case GG_MINOR_UNREACHABLE:
      return "gssgate: gssgated cannot be reached; is it running, and does GSSGATE_SOCKET name "
             "its wire socket?";
    case GG_MINOR_DENIED:
      return "gssgate: gssgated's policy refused this program";
    case GG_MINOR_LOST:
      return "gssgate: gssgated no longer holds this credential or context (it restarted, or "
             "the process forked); start again";
    case GG_MINOR_DAEMON:
      return "gssgate: gssgated refused the call";
    case GG_MINOR_UNSUPPORTED:
      return "gssgate: this operation is not available through gssgated";
    case GG_MINOR_NOMEM:
      return "gssgate: out of memory";
    case GG_MINOR_BAD_TOKEN:
      return "gssgate: a token handed to the module is cut short or malformed";
    default:
      return NULL;
  }
}

OM_uint32 gg_reply_status(OM_uint32* minor, const Gssgate__V1__GssStatus* status) {
  if (status == NULL) {
    *minor = 0;
    return GSS_S_COMPLETE;
  }
  *minor = status->minor;
  /* A failure the daemon explains without a code of MIT's (a refusal of its own, such as an
   * inquiry it does not answer) gets the module's "gssgated refused" code, so its text shows. */
  if (status->minor == 0 && status->n_minor_text > 0 && GSS_ERROR(status->major)) {
    *minor = GG_MINOR_DAEMON;
  }
  if (*minor != 0 && status->n_minor_text > 0) {
    /* The daemon's own text (MIT's, with the names it knew), not what a local krb5 would say
     * for the bare code. */
    const ProtobufCBinaryData* text = &status->minor_text[0];
    const int len = text->len > 500 ? 500 : (int)text->len;
    last_minor = *minor;
    snprintf(last_text, sizeof(last_text), "%.*s", len, (const char*)text->data);
  }
  return status->major;
}

/* ---- the connection -------------------------------------------------------------------------- */

static pthread_mutex_t connection_mu = PTHREAD_MUTEX_INITIALIZER;
static gssgate_wire* connection;
static pid_t connection_pid;
/* Which connection of this process's life a handle was made on: bumped for every new
 * gssgate_wire (a forked child makes its own), combined with its generation in gg_handle. */
static uint64_t connection_epoch;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

/* fork() while another thread holds connection_mu must not leave the child a lock nobody
 * releases. */
static void atfork_prepare(void) { pthread_mutex_lock(&connection_mu); }
static void atfork_release(void) { pthread_mutex_unlock(&connection_mu); }
static void register_atfork(void) {
  pthread_atfork(atfork_prepare, atfork_release, atfork_release);
}

/* The process's connection, made if need be; with `epoch` (if not NULL) the epoch it belongs
 * to, read under the same lock. */
static gssgate_wire* connection_of_process(OM_uint32* minor, uint64_t* epoch) {
  pthread_once(&atfork_once, register_atfork);
  pthread_mutex_lock(&connection_mu);
  if (connection != NULL && connection_pid != getpid()) {
    /* A forked child: the parent's connection object may have been mid-call in a thread the
     * child does not have (its lock held for good), and its handles are not the child's. Free
     * it without its lock and make the child's own. */
    gssgate_wire_abandon_after_fork(connection);
    connection = NULL;
  }
  if (connection == NULL) {
    gssgate_wire_status status;
    connection = gssgate_wire_connect(NULL, &status);
    if (connection == NULL) {
      *minor = GG_MINOR_UNREACHABLE;
      gg_set_error(*minor, "gssgate: %s", status.message);
    } else {
      connection_pid = getpid();
      connection_epoch++;
    }
  }
  gssgate_wire* conn = connection;
  if (epoch != NULL) *epoch = connection_epoch;
  pthread_mutex_unlock(&connection_mu);
  return conn;
}

gssgate_wire* gg_connection(OM_uint32* minor) { return connection_of_process(minor, NULL); }

/* The connection identity a new handle gets, and an old one must still have: which connection
 * object, and which of its connections to the daemon; 0 when there is no connection. One lock
 * and an atomic read, as every call on a handle asks. (No destructor closes the connection at
 * exit: another thread may still be inside a call, and the kernel closes the socket; the
 * daemon then releases the handles.) */
static uint64_t connection_identity(void) {
  OM_uint32 ignored;
  uint64_t epoch = 0;
  gssgate_wire* conn = connection_of_process(&ignored, &epoch);
  return conn == NULL ? 0 : (epoch << 32) ^ gssgate_wire_generation(conn);
}

OM_uint32 gg_call(OM_uint32* minor, const char* method, const ProtobufCMessage* request,
                  ProtobufCMessage** reply, OM_uint32 lost_major) {
  *reply = NULL;
  gssgate_wire* conn = gg_connection(minor);
  if (conn == NULL) return GSS_S_FAILURE;
  gssgate_wire_status status;
  switch (gssgate_wire_call(conn, method, request, reply, &status)) {
    case GSSGATE_WIRE_OK:
      return GSS_S_COMPLETE;
    case GSSGATE_WIRE_UNAVAILABLE:
      *minor = GG_MINOR_UNREACHABLE;
      gg_set_error(*minor, "gssgate: %s", status.message);
      return GSS_S_FAILURE;
    case GSSGATE_WIRE_PERMISSION_DENIED:
      *minor = GG_MINOR_DENIED;
      gg_set_error(*minor, "gssgate: %s", status.message);
      return GSS_S_FAILURE;
    case GSSGATE_WIRE_NOT_FOUND:
      *minor = GG_MINOR_LOST;
      gg_set_error(*minor, "gssgate: %s", status.message);
      return lost_major;
    default:
      *minor = GG_MINOR_DAEMON;
      gg_set_error(*minor, "gssgate: %s (%s)", status.message, method);
      return GSS_S_FAILURE;
  }
}

/* ---- handles and buffers --------------------------------------------------------------------- */

ProtobufCBinaryData gg_bin(const void* data, size_t len) {
  ProtobufCBinaryData b = {len, (uint8_t*)data};
  return b;
}

int gg_handle_set(gg_handle* handle, const ProtobufCBinaryData* from) {
  uint8_t* copy = malloc(from->len > 0 ? from->len : 1);
  if (copy == NULL) return 0;
  if (from->len > 0) memcpy(copy, from->data, from->len);
  free(handle->data);
  handle->data = copy;
  handle->len = from->len;
  handle->generation = connection_identity();
  return 1;
}

void gg_handle_free(gg_handle* handle) {
  free(handle->data);
  handle->data = NULL;
  handle->len = 0;
}

int gg_handle_current(OM_uint32* minor, const gg_handle* handle, const char* what) {
  const uint64_t identity = connection_identity();
  if (identity != 0 && identity == handle->generation) return 1;
  *minor = GG_MINOR_LOST;
  gg_set_error(*minor,
               "gssgate: this %s was made on an earlier connection to gssgated (it restarted, "
               "or the process forked) and is gone; start again",
               what);
  return 0;
}

OM_uint32 gg_nomem(OM_uint32* minor) {
  *minor = GG_MINOR_NOMEM;
  gg_set_error(*minor, "gssgate: out of memory");
  return GSS_S_FAILURE;
}

void gg_release_handle(gg_handle* handle, int is_cred) {
  OM_uint32 ignored;
  if (handle->len > 0 && gg_handle_current(&ignored, handle, "handle")) {
    gg_release_returned_bytes(handle->data, handle->len, is_cred);
  }
  gg_handle_free(handle);
}

void gg_release_returned(const ProtobufCBinaryData* handle, int is_cred) {
  gg_release_returned_bytes(handle->data, handle->len, is_cred);
}

void gg_release_returned_bytes(const uint8_t* data, size_t len, int is_cred) {
  OM_uint32 ignored;
  gssgate_wire* conn = gg_connection(&ignored);
  if (conn == NULL || len == 0) return;
  if (is_cred) {
    gssgate_wire_release_cred(conn, data, len);
  } else {
    gssgate_wire_release_context(conn, data, len);
  }
}

void gg_set_lifetime(OM_uint32* out, OM_uint32 lifetime) {
  if (out != NULL) *out = lifetime;
}

int gg_buffer_set(gss_buffer_t out, const void* bytes, size_t len) {
  out->length = 0;
  out->value = NULL;
  if (len == 0) return 1;
  /* The application frees it with gss_release_buffer, which is free() on this platform. */
  out->value = malloc(len);
  if (out->value == NULL) return 0;
  memcpy(out->value, bytes, len);
  out->length = len;
  return 1;
}

OM_uint32 gg_buffer_set_of(OM_uint32* minor, const ProtobufCBinaryData* values, size_t n,
                           gss_buffer_set_t* out) {
  OM_uint32 ignored;
  *out = GSS_C_NO_BUFFER_SET;
  if (gss_create_empty_buffer_set(&ignored, out) != GSS_S_COMPLETE) return gg_nomem(minor);
  for (size_t i = 0; i < n; ++i) {
    gss_buffer_desc value = {values[i].len, values[i].data};
    if (gss_add_buffer_set_member(&ignored, &value, out) != GSS_S_COMPLETE) {
      gss_release_buffer_set(&ignored, out);
      return gg_nomem(minor);
    }
  }
  return GSS_S_COMPLETE;
}

int64_t gg_now(void) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return now.tv_sec;
}

/* ---- names ----------------------------------------------------------------------------------- */

/* memcpy with a NULL source is undefined even for 0 bytes (an empty buffer, GSS_C_NO_OID's
 * elements), so empty copies never call it. */
static int copy_bytes(gss_buffer_t out, const void* bytes, size_t len) {
  out->value = malloc(len > 0 ? len : 1);
  if (out->value == NULL) return 0;
  if (len > 0) memcpy(out->value, bytes, len);
  out->length = len;
  return 1;
}

void gg_name_free(gg_name* name) {
  if (name == NULL) return;
  free(name->value.value);
  free(name->type.elements);
  free(name->display.value);
  gg_name_free(name->canonical);
  free(name);
}

static gg_name* name_new(const void* value, size_t len, const void* type, size_t type_len) {
  gg_name* name = calloc(1, sizeof(*name));
  if (name == NULL) return NULL;
  if (!copy_bytes(&name->value, value, len)) goto fail;
  name->type.elements = malloc(type_len > 0 ? type_len : 1);
  if (name->type.elements == NULL) goto fail;
  if (type_len > 0) memcpy(name->type.elements, type, type_len);
  name->type.length = (OM_uint32)type_len;
  return name;
fail:
  gg_name_free(name);
  return NULL;
}

gg_name* gg_name_from_proto(const Gssgate__V1__Name* proto) {
  if (proto == NULL) return NULL;
  gg_name* name =
      name_new(proto->value.data, proto->value.len, proto->name_type.data, proto->name_type.len);
  if (name == NULL) return NULL;
  if (proto->display.len > 0) {
    if (!copy_bytes(&name->display, proto->display.data, proto->display.len)) {
      gg_name_free(name);
      return NULL;
    }
    name->display_type = static_name_type(&proto->display_type);
  }
  return name;
}

gg_name* gg_name_copy(const gg_name* from) {
  gg_name* name =
      name_new(from->value.value, from->value.length, from->type.elements, from->type.length);
  if (name == NULL) return NULL;
  if (from->display.length > 0) {
    if (!copy_bytes(&name->display, from->display.value, from->display.length)) {
      gg_name_free(name);
      return NULL;
    }
  }
  name->display_type = from->display_type;
  const gg_name* canonical = __atomic_load_n(&((gg_name*)from)->canonical, __ATOMIC_ACQUIRE);
  if (canonical != NULL && (name->canonical = gg_name_copy(canonical)) == NULL) {
    gg_name_free(name);
    return NULL;
  }
  return name;
}

void gg_name_to_proto(const gg_name* name, Gssgate__V1__Name* out) {
  gssgate__v1__name__init(out);
  out->value = gg_bin(name->value.value, name->value.length);
  out->name_type = gg_bin(name->type.elements, name->type.length);
}

static OM_uint32 import_name(OM_uint32* minor, gss_buffer_t buffer, gss_OID type, gss_name_t* out) {
  *out = GSS_C_NO_NAME;
  /* By value: the daemon imports it where it is used, so nothing is lost to a canonical form
   * made here. */
  gg_name* name =
      name_new(buffer->value, buffer->length, type != GSS_C_NO_OID ? type->elements : NULL,
               type != GSS_C_NO_OID ? type->length : 0);
  if (name == NULL) {
    *minor = GG_MINOR_NOMEM;
    return GSS_S_FAILURE;
  }
  *out = (gss_name_t)name;
  *minor = 0;
  return GSS_S_COMPLETE;
}

GG_EXPORT OM_uint32 gssi_import_name(OM_uint32* minor, gss_buffer_t buffer, gss_OID type,
                                     gss_name_t* out) {
  return import_name(minor, buffer, type, out);
}

GG_EXPORT OM_uint32 gssi_import_name_by_mech(OM_uint32* minor, gss_OID mech, gss_buffer_t buffer,
                                             gss_OID type, gss_name_t* out) {
  (void)mech;
  return import_name(minor, buffer, type, out);
}

/* The name as MIT's krb5 would show and export it: a name the daemon returned as it is, a name
 * the program imported through the daemon's CanonicalizeName (once; later calls reuse it). MIT
 * hands the module a name only once it is a mechanism name (canonicalize, or a call that uses
 * it), so this is what the program would get from a local krb5: "host@" shows as
 * "host/<the daemon's host name>@". Sending a name with a call needs none of it (names travel by
 * value), so the handshake path never pays for it. */
/* The daemon's mechanism name for `name`, into *made. */
static OM_uint32 canonicalize_by_daemon(OM_uint32* minor, const gg_name* name, gg_name** made) {
  Gssgate__V1__CanonicalizeNameRequest request = GSSGATE__V1__CANONICALIZE_NAME_REQUEST__INIT;
  Gssgate__V1__Name proto;
  gg_name_to_proto(name, &proto);
  request.name = &proto;
  ProtobufCMessage* reply;
  OM_uint32 major = gg_call(minor, "CanonicalizeName", &request.base, &reply, GSS_S_FAILURE);
  if (major != GSS_S_COMPLETE) return major;
  const Gssgate__V1__CanonicalizeNameReply* canonicalized =
      (const Gssgate__V1__CanonicalizeNameReply*)reply;
  major = gg_reply_status(minor, canonicalized->status);
  if (!GSS_ERROR(major) &&
      (canonicalized->name == NULL || canonicalized->name->display.len == 0)) {
    *minor = GG_MINOR_DAEMON;
    gg_set_error(*minor, "gssgate: gssgated's reply carries no mechanism name");
    major = GSS_S_FAILURE;
  }
  if (!GSS_ERROR(major) && (*made = gg_name_from_proto(canonicalized->name)) == NULL) {
    major = gg_nomem(minor);
  }
  protobuf_c_message_free_unpacked(reply, NULL);
  return major;
}

/* The local krb5 mechanism's name for `name` (GSSGATE_INTERPOSE=fallback, no daemon). */
static OM_uint32 canonicalize_locally(OM_uint32* minor, const gg_name* name, gg_name** made) {
  OM_uint32 ignored;
  gss_name_t imported = GSS_C_NO_NAME, mechanism_name = GSS_C_NO_NAME;
  OM_uint32 major = gg_local_name(minor, name, &imported);
  if (major == GSS_S_COMPLETE) {
    major = gg_local_status(minor, gss_canonicalize_name(minor, imported,
                                                         gg_local_mech(gss_mech_krb5),
                                                         &mechanism_name));
  }
  if (major == GSS_S_COMPLETE && (*made = gg_name_from_local(minor, mechanism_name)) == NULL) {
    major = GSS_S_FAILURE;
  }
  gss_release_name(&ignored, &imported);
  gss_release_name(&ignored, &mechanism_name);
  return major;
}

/* The name as MIT's krb5 would show and export it: a name the daemon returned as it is, a name
 * the program imported through the daemon's CanonicalizeName (once; later calls reuse it). MIT
 * hands the module a name only once it is a mechanism name (canonicalize, or a call that uses
 * it), so this is what the program would get from a local krb5: "host@" shows as
 * "host/<the daemon's host name>@". Sending a name with a call needs none of it (names travel by
 * value), so the handshake path never pays for it. */
static OM_uint32 canonical_name(OM_uint32* minor, const gg_name* name, const gg_name** out) {
  *out = name;
  if (name->display.length > 0) return GSS_S_COMPLETE;
  gg_name* known = __atomic_load_n(&((gg_name*)name)->canonical, __ATOMIC_ACQUIRE);
  if (known != NULL) {
    *out = known;
    return GSS_S_COMPLETE;
  }
  gg_name* made = NULL;
  OM_uint32 major = canonicalize_by_daemon(minor, name, &made);
  if (gg_falls_back(major, *minor)) major = canonicalize_locally(minor, name, &made);
  if (GSS_ERROR(major)) return major;
  gg_name* expected = NULL;
  if (__atomic_compare_exchange_n(&((gg_name*)name)->canonical, &expected, made, 0,
                                  __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
    *out = made;
  } else { /* another thread was first: use its copy */
    gg_name_free(made);
    *out = expected;
  }
  return major;
}

GG_EXPORT OM_uint32 gssi_display_name(OM_uint32* minor, gss_name_t input, gss_buffer_t out,
                                      gss_OID* out_type) {
  *minor = 0;
  const gg_name* name = (const gg_name*)input;
  if (name == NULL) return GSS_S_BAD_NAME;
  OM_uint32 major = canonical_name(minor, name, &name);
  if (major != GSS_S_COMPLETE) return major;
  if (!gg_buffer_set(out, name->display.value, name->display.length)) return gg_nomem(minor);
  if (out_type != NULL) *out_type = name->display_type;
  return GSS_S_COMPLETE;
}

GG_EXPORT OM_uint32 gssi_release_name(OM_uint32* minor, gss_name_t* name) {
  *minor = 0;
  gg_name_free((gg_name*)*name);
  *name = GSS_C_NO_NAME;
  return GSS_S_COMPLETE;
}

GG_EXPORT OM_uint32 gssi_duplicate_name(OM_uint32* minor, const gss_name_t input, gss_name_t* out) {
  *minor = 0;
  gg_name* copy = gg_name_copy((const gg_name*)input);
  if (copy == NULL) {
    *minor = GG_MINOR_NOMEM;
    return GSS_S_FAILURE;
  }
  *out = (gss_name_t)copy;
  return GSS_S_COMPLETE;
}

GG_EXPORT OM_uint32 gssi_compare_name(OM_uint32* minor, gss_name_t first, gss_name_t second,
                                      int* equal) {
  Gssgate__V1__CompareNameRequest request = GSSGATE__V1__COMPARE_NAME_REQUEST__INIT;
  Gssgate__V1__Name a, b;
  gg_name_to_proto((const gg_name*)first, &a);
  gg_name_to_proto((const gg_name*)second, &b);
  request.first = &a;
  request.second = &b;
  ProtobufCMessage* reply;
  OM_uint32 major = gg_call(minor, "CompareName", &request.base, &reply, GSS_S_FAILURE);
  if (gg_falls_back(major, *minor)) {
    OM_uint32 ignored;
    gss_name_t a_local = GSS_C_NO_NAME, b_local = GSS_C_NO_NAME;
    major = gg_local_name(minor, (const gg_name*)first, &a_local);
    if (major == GSS_S_COMPLETE) major = gg_local_name(minor, (const gg_name*)second, &b_local);
    if (major == GSS_S_COMPLETE) {
      major = gg_local_status(minor, gss_compare_name(minor, a_local, b_local, equal));
    }
    gss_release_name(&ignored, &a_local);
    gss_release_name(&ignored, &b_local);
    return major;
  }
  if (major != GSS_S_COMPLETE) return major;
  const Gssgate__V1__CompareNameReply* compared = (const Gssgate__V1__CompareNameReply*)reply;
  major = gg_reply_status(minor, compared->status);
  *equal = compared->equal;
  protobuf_c_message_free_unpacked(reply, NULL);
  return major;
}

static OM_uint32 export_name(OM_uint32* minor, const gss_name_t input, int composite,
                             gss_buffer_t out) {
  out->length = 0;
  out->value = NULL;
  const gg_name* name = (const gg_name*)input;
  if (name == NULL) return GSS_S_BAD_NAME;
  /* The daemon exports mechanism names only. */
  OM_uint32 major = canonical_name(minor, name, &name);
  if (major != GSS_S_COMPLETE) return major;
  Gssgate__V1__ExportNameRequest request = GSSGATE__V1__EXPORT_NAME_REQUEST__INIT;
  Gssgate__V1__Name proto;
  gg_name_to_proto(name, &proto);
  request.name = &proto;
  request.composite = composite;
  ProtobufCMessage* reply;
  major = gg_call(minor, "ExportName", &request.base, &reply, GSS_S_FAILURE);
  if (gg_falls_back(major, *minor)) {
    OM_uint32 ignored;
    gss_name_t local = GSS_C_NO_NAME;
    major = gg_local_name(minor, name, &local);
    if (major == GSS_S_COMPLETE) {
      major = gg_local_status(minor, composite ? gss_export_name_composite(minor, local, out)
                                               : gss_export_name(minor, local, out));
    }
    gss_release_name(&ignored, &local);
    return major;
  }
  if (major != GSS_S_COMPLETE) return major;
  const Gssgate__V1__ExportNameReply* exported = (const Gssgate__V1__ExportNameReply*)reply;
  major = gg_reply_status(minor, exported->status);
  if (!GSS_ERROR(major) && !gg_buffer_set(out, exported->token.data, exported->token.len)) {
    major = gg_nomem(minor);
  }
  protobuf_c_message_free_unpacked(reply, NULL);
  return major;
}

GG_EXPORT OM_uint32 gssi_export_name(OM_uint32* minor, const gss_name_t input, gss_buffer_t out) {
  return export_name(minor, input, 0, out);
}

/* RFC 6680: the exported name with its attributes. */
GG_EXPORT OM_uint32 gssi_export_name_composite(OM_uint32* minor, gss_name_t input,
                                               gss_buffer_t out) {
  return export_name(minor, input, 1, out);
}

/* gss_localname: the program's local account for a name, as MIT's krb5 maps it in the program
 * (its krb5.conf's auth_to_local rules: local accounts are the program's host's, not the
 * daemon's). The principal is the daemon's mechanism name, shown; no key is involved. */
GG_EXPORT OM_uint32 gssi_localname(OM_uint32* minor, const gss_name_t input, gss_const_OID mech,
                                   gss_buffer_t localname) {
  (void)mech;
  const gg_name* name = (const gg_name*)input;
  if (name == NULL) return GSS_S_BAD_NAME;
  OM_uint32 major = canonical_name(minor, name, &name);
  if (major != GSS_S_COMPLETE) return major;
  OM_uint32 ignored;
  gss_buffer_desc principal = {name->display.length, name->display.value};
  gss_name_t local = GSS_C_NO_NAME;
  major = gg_local_status(minor,
                          gss_import_name(minor, &principal, GSS_KRB5_NT_PRINCIPAL_NAME, &local));
  if (major == GSS_S_COMPLETE) {
    major = gg_local_status(
        minor, gss_localname(minor, local, gg_local_mech(gss_mech_krb5), localname));
  }
  gss_release_name(&ignored, &local);
  return major;
}

/* RFC 6680: which attributes a name has (a PAC's, for an initiator the daemon authenticated). */
GG_EXPORT OM_uint32 gssi_inquire_name(OM_uint32* minor, gss_name_t input, int* name_is_mn,
                                      gss_OID* mn_mech, gss_buffer_set_t* attrs) {
  Gssgate__V1__InquireNameRequest request = GSSGATE__V1__INQUIRE_NAME_REQUEST__INIT;
  Gssgate__V1__Name name;
  gg_name_to_proto((const gg_name*)input, &name);
  request.name = &name;
  ProtobufCMessage* reply;
  OM_uint32 major = gg_call(minor, "InquireName", &request.base, &reply, GSS_S_FAILURE);
  if (gg_falls_back(major, *minor)) {
    OM_uint32 ignored;
    gss_name_t local = GSS_C_NO_NAME;
    gss_OID mech = GSS_C_NO_OID;
    major = gg_local_name(minor, (const gg_name*)input, &local);
    if (major == GSS_S_COMPLETE) {
      major = gg_local_status(minor, gss_inquire_name(minor, local, name_is_mn, &mech, attrs));
    }
    if (mn_mech != NULL) {
      ProtobufCBinaryData bytes =
          gg_bin(mech != GSS_C_NO_OID ? mech->elements : NULL, mech != GSS_C_NO_OID ? mech->length : 0);
      *mn_mech = mech != GSS_C_NO_OID ? gg_static_mech(&bytes) : GSS_C_NO_OID;
    }
    gss_release_name(&ignored, &local);
    return major;
  }
  if (major != GSS_S_COMPLETE) return major;
  const Gssgate__V1__InquireNameReply* inquired = (const Gssgate__V1__InquireNameReply*)reply;
  major = gg_reply_status(minor, inquired->status);
  if (!GSS_ERROR(major)) {
    if (name_is_mn != NULL) *name_is_mn = inquired->is_mech_name;
    if (mn_mech != NULL) *mn_mech = inquired->is_mech_name ? gg_static_mech(&inquired->mech) : NULL;
    if (attrs != NULL) {
      *attrs = GSS_C_NO_BUFFER_SET;
      if (gss_create_empty_buffer_set(minor, attrs) != GSS_S_COMPLETE) major = GSS_S_FAILURE;
      for (size_t i = 0; i < inquired->n_attributes && !GSS_ERROR(major); ++i) {
        gss_buffer_desc attr = {inquired->attributes[i].len, inquired->attributes[i].data};
        if (gss_add_buffer_set_member(minor, &attr, attrs) != GSS_S_COMPLETE) {
          major = GSS_S_FAILURE;
        }
      }
      if (GSS_ERROR(major)) {
        OM_uint32 ignored;
        gss_release_buffer_set(&ignored, attrs);
        *minor = GG_MINOR_NOMEM;
      }
    }
  }
  protobuf_c_message_free_unpacked(reply, NULL);
  return major;
}

/* One value of an attribute per call: *more is -1 on the first call and 0 after the last value
 * (RFC 6680 §7.5); the daemon sends them all, so each call asks again for the next index. */
GG_EXPORT OM_uint32 gssi_get_name_attribute(OM_uint32* minor, gss_name_t input, gss_buffer_t attr,
                                            int* authenticated, int* complete, gss_buffer_t value,
                                            gss_buffer_t display_value, int* more) {
  const int index = *more == -1 ? 0 : *more;
  Gssgate__V1__GetNameAttributeRequest request = GSSGATE__V1__GET_NAME_ATTRIBUTE_REQUEST__INIT;
  Gssgate__V1__Name name;
  gg_name_to_proto((const gg_name*)input, &name);
  request.name = &name;
  request.attribute = gg_bin(attr->value, attr->length);
  ProtobufCMessage* reply;
  OM_uint32 major = gg_call(minor, "GetNameAttribute", &request.base, &reply, GSS_S_FAILURE);
  if (gg_falls_back(major, *minor)) {
    OM_uint32 ignored;
    gss_name_t local = GSS_C_NO_NAME;
    major = gg_local_name(minor, (const gg_name*)input, &local);
    if (major == GSS_S_COMPLETE) {
      major = gg_local_status(minor, gss_get_name_attribute(minor, local, attr, authenticated,
                                                            complete, value, display_value, more));
    }
    gss_release_name(&ignored, &local);
    return major;
  }
  if (major != GSS_S_COMPLETE) return major;
  const Gssgate__V1__GetNameAttributeReply* got = (const Gssgate__V1__GetNameAttributeReply*)reply;
  major = gg_reply_status(minor, got->status);
  if (!GSS_ERROR(major)) {
    if ((size_t)index >= got->n_values) {
      major = GSS_S_UNAVAILABLE;
    } else {
      if (authenticated != NULL) *authenticated = got->authenticated;
      if (complete != NULL) *complete = got->complete;
      const ProtobufCBinaryData* shown =
          (size_t)index < got->n_display_values ? &got->display_values[index] : NULL;
      gss_buffer_desc v = GSS_C_EMPTY_BUFFER, d = GSS_C_EMPTY_BUFFER;
      if (!gg_buffer_set(&v, got->values[index].data, got->values[index].len) ||
          !gg_buffer_set(&d, shown != NULL ? shown->data : NULL, shown != NULL ? shown->len : 0)) {
        free(v.value);
        *minor = GG_MINOR_NOMEM;
        major = GSS_S_FAILURE;
      } else {
        if (value != NULL) {
          *value = v;
        } else {
          free(v.value);
        }
        if (display_value != NULL) {
          *display_value = d;
        } else {
          free(d.value);
        }
      }
      *more = (size_t)index + 1 < got->n_values ? index + 1 : 0;
    }
  }
  protobuf_c_message_free_unpacked(reply, NULL);
  return major;
}

/* ---- statuses and the mechanism's properties ------------------------------------------------- */

GG_EXPORT OM_uint32 gssi_display_status(OM_uint32* minor, OM_uint32 status_value, int status_type,
                                        gss_OID mech, OM_uint32* message_context,
                                        gss_buffer_t out) {
  (void)mech;
  *minor = 0;
  if (status_type != GSS_C_MECH_CODE) return GSS_S_BAD_STATUS;
  const char* text = NULL;
  if (status_value == last_minor && last_text[0] != '\0') {
    text = last_text;
  } else {
    text = fixed_text(status_value);
  }
  char fallback[160];
  if (text == NULL) {
    /* A krb5 code we hold no text for (an older call, another thread): com_err's table. Never
     * gss_display_status here: MIT maps the code back to this module and would call us again. */
    snprintf(fallback, sizeof(fallback), "%s", error_message((long)status_value));
    text = fallback;
  }
  *message_context = 0;
  if (!gg_buffer_set(out, text, strlen(text))) {
    *minor = GG_MINOR_NOMEM;
    return GSS_S_FAILURE;
  }
  return GSS_S_COMPLETE;
}

/* What the mechanism is and which name types it takes are the local krb5 mechanism's answers:
 * the daemon runs the same MIT krb5. (gssi_inquire_attrs_for_mech is called on every
 * gss_indicate_mechs; it must stay local.) */
GG_EXPORT OM_uint32 gssi_inquire_attrs_for_mech(OM_uint32* minor, gss_const_OID mech,
                                                gss_OID_set* mech_attrs, gss_OID_set* known_attrs) {
  return gss_inquire_attrs_for_mech(minor, gg_local_mech(mech), mech_attrs, known_attrs);
}

GG_EXPORT OM_uint32 gssi_inquire_names_for_mech(OM_uint32* minor, gss_OID mech,
                                                gss_OID_set* names) {
  return gss_inquire_names_for_mech(minor, gg_local_mech(mech), names);
}
