/* The gssgate mechglue interposer's internals (docs/transparent.md). MIT's libgssapi_krb5 loads
 * the module into every GSSAPI program that names it in its mech config; the program's krb5 calls
 * then reach gssi_* here, which carry them to gssgated over the wire socket. Credentials and
 * contexts stay in the daemon as handles; names travel by value.
 *
 * No C++ runtime, no gRPC: only libc, libprotobuf-c, the C wire client and the GSSAPI library
 * the module is loaded by. Nothing here prints, aborts or changes signal dispositions. */
#ifndef GSSGATE_INTERPOSER_H
#define GSSGATE_INTERPOSER_H

#include <gssapi/gssapi.h>
#include <gssapi/gssapi_ext.h>
#include <stdint.h>

#include "gssgate/v1/gssgate.pb-c.h"
#include "gssgate_wire.h"

#define GG_EXPORT __attribute__((visibility("default")))

/* Minor status codes of the module's own failures (the daemon's GSSAPI failures keep the minor
 * code MIT gave them). gssi_display_status says what failed and what to do. The values are in
 * a range com_err never hands out (its tables are 8-bit codes under 24-bit bases, and no table
 * is named "gg"), so they cannot be mistaken for a krb5 error. */
enum {
  GG_MINOR_BASE = 0x67670000u,
  GG_MINOR_UNREACHABLE = GG_MINOR_BASE + 1, /* no daemon at the wire socket */
  GG_MINOR_DENIED = GG_MINOR_BASE + 2,      /* the daemon's policy refused */
  GG_MINOR_LOST = GG_MINOR_BASE + 3,        /* a handle the daemon no longer has */
  GG_MINOR_DAEMON = GG_MINOR_BASE + 4,      /* any other refusal by the daemon */
  GG_MINOR_UNSUPPORTED = GG_MINOR_BASE + 5, /* not offered through gssgated (yet) */
  GG_MINOR_NOMEM = GG_MINOR_BASE + 6,
  GG_MINOR_BAD_TOKEN = GG_MINOR_BASE + 7, /* a token the module itself cannot read */
  GG_MINOR_LAST = GG_MINOR_BAD_TOKEN
};

/* A name, by value: what the application imported, or what the daemon returned (a mechanism
 * name as an exported composite token, with the display form beside it). */
typedef struct gg_name {
  gss_buffer_desc value;
  gss_OID_desc type;       /* elements malloc'ed; length 0: the mechanism's default syntax */
  gss_buffer_desc display; /* length 0: display `value` */
  gss_OID display_type;    /* a library constant or GSS_C_NO_OID */
  /* The daemon's mechanism name for a name the program imported (no `display`), asked for the
   * first time the program displays or exports it and kept from then on; set once, atomically
   * (a name may be shared between threads). */
  struct gg_name* canonical;
} gg_name;

/* A credential or context handle of the daemon, with the connection generation it belongs to. */
typedef struct gg_handle {
  uint8_t* data;
  size_t len;
  uint64_t generation;
} gg_handle;

typedef struct gg_cred {
  gg_handle handle;
  /* GSSGATE_INTERPOSE=fallback: MIT's own credential, when gssgated could not serve (local.c);
   * then `handle` is empty. */
  gss_cred_id_t local;
} gg_cred;

typedef struct gg_ctx {
  gg_handle handle;
  int initiator;
  int open;
  OM_uint32 flags;
  gss_OID mech; /* a library constant */
  /* When the context's lifetime ends (CLOCK_MONOTONIC seconds), unless `indefinite`. */
  int64_t expires;
  int indefinite;
  gg_name* source; /* filled by the step that completes the context */
  gg_name* target;
  /* GSSGATE_INTERPOSE=fallback: MIT's own context (local.c); then nothing above is used. */
  gss_ctx_id_t local;
} gg_ctx;

/* ---- interposer.c ---------------------------------------------------------------------------- */

/* The daemon connection of this process, connected on first use; NULL with *minor set when it
 * cannot be reached. */
gssgate_wire* gg_connection(OM_uint32* minor);

/* One call to the daemon. Returns GSS_S_COMPLETE with *reply set, or a GSSAPI major status with
 * *minor set to a GG_MINOR_* whose text gssi_display_status gives (NOT_FOUND of a handle maps to
 * `lost_major`: GSS_S_NO_CONTEXT or GSS_S_NO_CRED). */
OM_uint32 gg_call(OM_uint32* minor, const char* method, const ProtobufCMessage* request,
                  ProtobufCMessage** reply, OM_uint32 lost_major);

/* The major status of a reply's GssStatus; records its minor code and text for
 * gssi_display_status. */
OM_uint32 gg_reply_status(OM_uint32* minor, const Gssgate__V1__GssStatus* status);

/* Records the text for a minor code of ours (printf-style), for gssi_display_status. */
void gg_set_error(OM_uint32 minor, const char* format, ...) __attribute__((format(printf, 2, 3)));

/* Whether a handle belongs to the current connection; if not, sets *minor (GG_MINOR_LOST). */
int gg_handle_current(OM_uint32* minor, const gg_handle* handle, const char* what);
int gg_handle_set(gg_handle* handle, const ProtobufCBinaryData* from);
void gg_handle_free(gg_handle* handle);
ProtobufCBinaryData gg_bin(const void* data, size_t len);

/* GG_MINOR_NOMEM with its text; returns GSS_S_FAILURE. */
OM_uint32 gg_nomem(OM_uint32* minor);
/* Lets go of a handle this module holds (its release rides on the connection's next call, if the
 * handle is of the current connection) and frees its bytes. */
void gg_release_handle(gg_handle* handle, int is_cred);
/* Lets go of a handle the daemon returned that this module will not keep (a step that failed
 * here after it succeeded there, a delegated credential nobody asked for). */
void gg_release_returned(const ProtobufCBinaryData* handle, int is_cred);
void gg_release_returned_bytes(const uint8_t* data, size_t len, int is_cred);
void gg_set_lifetime(OM_uint32* out, OM_uint32 lifetime);

/* Names. */
gg_name* gg_name_from_proto(const Gssgate__V1__Name* name);
/* A request's view of a name (points into it; no copies). */
void gg_name_to_proto(const gg_name* name, Gssgate__V1__Name* out);
void gg_name_free(gg_name* name);
gg_name* gg_name_copy(const gg_name* name);

/* Copies `bytes` into a malloc'ed GSSAPI buffer. */
int gg_buffer_set(gss_buffer_t out, const void* bytes, size_t len);
/* A GSSAPI buffer set holding copies of a reply's `values` (gss_release_buffer_set frees it). */
OM_uint32 gg_buffer_set_of(OM_uint32* minor, const ProtobufCBinaryData* values, size_t n,
                           gss_buffer_set_t* out);
/* The library's constant for a mechanism OID in bytes (krb5 and its other OIDs), or NULL. */
gss_OID gg_static_mech(const ProtobufCBinaryData* bytes);
/* The same mechanism as the local krb5 mechanism sees it: our OID followed by the real one, so
 * that a gss_* call with it reaches MIT's krb5 and not this module again. */
gss_OID gg_local_mech(gss_const_OID mech);

int64_t gg_now(void);

/* ---- local.c: GSSGATE_INTERPOSE=fallback ------------------------------------------------------ */

/* Whether the program set GSSGATE_INTERPOSE=fallback. */
int gg_fallback_mode(void);
/* Whether a failed call to the daemon (major, minor as gg_call gave them) is one that falls back
 * to MIT's own krb5: fallback mode, and gssgated unreachable or refusing by policy. */
int gg_falls_back(OM_uint32 major, OM_uint32 minor);
/* The status of a call to the local mechanism; keeps the minor code's text for
 * gssi_display_status. Returns major. */
OM_uint32 gg_local_status(OM_uint32* minor, OM_uint32 major);
/* A name of ours as a mechglue name the local mechanism takes (GSS_C_NO_NAME for NULL). */
OM_uint32 gg_local_name(OM_uint32* minor, const gg_name* name, gss_name_t* out);
/* A name the local mechanism returned, by value (its exported token and display form). */
gg_name* gg_name_from_local(OM_uint32* minor, gss_name_t local);
/* Mechanism sets: the program's as the local mechanism's OIDs, and back. */
OM_uint32 gg_local_mechs(OM_uint32* minor, const gss_OID_set desired, gss_OID_set* out);
OM_uint32 gg_public_mechs(OM_uint32* minor, const gss_OID_set local, gss_OID_set* out);
/* A credential of ours around a local one (released if memory runs out). */
gg_cred* gg_cred_from_local(OM_uint32* minor, gss_cred_id_t local);
/* The local forms of the entry points of the same names (gssi_*); gg_local_acquire_cred
 * impersonates desired_name when `impersonator` is a credential, and asks the KDC with
 * `password` when it is not GSS_C_NO_BUFFER. */
OM_uint32 gg_local_acquire_cred(OM_uint32* minor, gss_cred_id_t impersonator,
                                const gss_buffer_t password, const gg_name* desired_name,
                                OM_uint32 time_req, const gss_OID_set desired_mechs,
                                gss_cred_usage_t usage, gss_const_key_value_set_t cred_store,
                                gss_cred_id_t* out, gss_OID_set* actual_mechs, OM_uint32* time_rec);
OM_uint32 gg_local_inquire_cred(OM_uint32* minor, gss_cred_id_t local, gss_name_t* name,
                                OM_uint32* lifetime, gss_cred_usage_t* usage, gss_OID_set* mechs);
OM_uint32 gg_local_inquire_cred_by_mech(OM_uint32* minor, gss_cred_id_t local, gss_OID mech,
                                        gss_name_t* name, OM_uint32* init_lifetime,
                                        OM_uint32* accept_lifetime, gss_cred_usage_t* usage);
OM_uint32 gg_local_init(OM_uint32* minor, gg_ctx* ctx, gss_cred_id_t local_cred,
                        const gg_name* target, gss_OID mech_type, OM_uint32 req_flags,
                        OM_uint32 time_req, gss_channel_bindings_t bindings,
                        gss_buffer_t input_token, gss_OID* actual_mech, gss_buffer_t output_token,
                        OM_uint32* ret_flags, OM_uint32* time_rec);
OM_uint32 gg_local_accept(OM_uint32* minor, gg_ctx* ctx, gss_cred_id_t local_cred,
                          gss_buffer_t input_token, gss_channel_bindings_t bindings,
                          gss_name_t* src_name, gss_OID* mech_type, gss_buffer_t output_token,
                          OM_uint32* ret_flags, OM_uint32* time_rec,
                          gss_cred_id_t* delegated_cred);
/* Credentials of the program's own, exported and imported (MIT's token behind a marker). */
OM_uint32 gg_local_export_cred(OM_uint32* minor, gss_cred_id_t local, gss_buffer_t token);
int gg_is_local_cred_token(const void* bytes, size_t len);
OM_uint32 gg_local_import_cred(OM_uint32* minor, const void* bytes, size_t len,
                               gss_cred_id_t* out);
OM_uint32 gg_local_inquire_context(OM_uint32* minor, const gg_ctx* ctx, gss_name_t* src_name,
                                   gss_name_t* targ_name, OM_uint32* lifetime, gss_OID* mech_type,
                                   OM_uint32* ctx_flags, int* locally_initiated, int* open);

/* ---- the entry points MIT resolves (exports.map exports exactly these) ---------------------- */

gss_OID_set gss_mech_interposer(gss_OID mech_type);
OM_uint32 gssi_import_name(OM_uint32* minor, gss_buffer_t buffer, gss_OID type, gss_name_t* out);
OM_uint32 gssi_import_name_by_mech(OM_uint32* minor, gss_OID mech, gss_buffer_t buffer,
                                   gss_OID type, gss_name_t* out);
OM_uint32 gssi_display_name(OM_uint32* minor, gss_name_t input, gss_buffer_t out,
                            gss_OID* out_type);
OM_uint32 gssi_release_name(OM_uint32* minor, gss_name_t* name);
OM_uint32 gssi_duplicate_name(OM_uint32* minor, const gss_name_t input, gss_name_t* out);
OM_uint32 gssi_compare_name(OM_uint32* minor, gss_name_t first, gss_name_t second, int* equal);
OM_uint32 gssi_export_name(OM_uint32* minor, const gss_name_t input, gss_buffer_t out);
OM_uint32 gssi_export_name_composite(OM_uint32* minor, gss_name_t input, gss_buffer_t out);
OM_uint32 gssi_localname(OM_uint32* minor, const gss_name_t input, gss_const_OID mech,
                         gss_buffer_t localname);
OM_uint32 gssi_display_status(OM_uint32* minor, OM_uint32 status_value, int status_type,
                              gss_OID mech, OM_uint32* message_context, gss_buffer_t out);
OM_uint32 gssi_inquire_attrs_for_mech(OM_uint32* minor, gss_const_OID mech, gss_OID_set* mech_attrs,
                                      gss_OID_set* known_attrs);
OM_uint32 gssi_inquire_name(OM_uint32* minor, gss_name_t input, int* name_is_mn, gss_OID* mn_mech,
                            gss_buffer_set_t* attrs);
OM_uint32 gssi_get_name_attribute(OM_uint32* minor, gss_name_t input, gss_buffer_t attr,
                                  int* authenticated, int* complete, gss_buffer_t value,
                                  gss_buffer_t display_value, int* more);
OM_uint32 gssi_inquire_names_for_mech(OM_uint32* minor, gss_OID mech, gss_OID_set* names);
OM_uint32 gssi_acquire_cred_from(OM_uint32* minor, const gss_name_t desired_name,
                                 OM_uint32 time_req, const gss_OID_set desired_mechs,
                                 gss_cred_usage_t usage, gss_const_key_value_set_t cred_store,
                                 gss_cred_id_t* out, gss_OID_set* actual_mechs,
                                 OM_uint32* time_rec);
OM_uint32 gssi_acquire_cred(OM_uint32* minor, const gss_name_t desired_name, OM_uint32 time_req,
                            const gss_OID_set desired_mechs, gss_cred_usage_t usage,
                            gss_cred_id_t* out, gss_OID_set* actual_mechs, OM_uint32* time_rec);
OM_uint32 gssi_release_cred(OM_uint32* minor, gss_cred_id_t* cred_handle);
OM_uint32 gssi_inquire_cred(OM_uint32* minor, gss_cred_id_t cred_handle, gss_name_t* name,
                            OM_uint32* lifetime, gss_cred_usage_t* usage, gss_OID_set* mechs);
OM_uint32 gssi_inquire_cred_by_mech(OM_uint32* minor, gss_cred_id_t cred_handle, gss_OID mech,
                                    gss_name_t* name, OM_uint32* init_lifetime,
                                    OM_uint32* accept_lifetime, gss_cred_usage_t* usage);
OM_uint32 gssi_acquire_cred_impersonate_name(OM_uint32* minor, const gss_cred_id_t impersonator_cred,
                                             const gss_name_t desired_name, OM_uint32 time_req,
                                             const gss_OID_set desired_mechs,
                                             gss_cred_usage_t usage, gss_cred_id_t* out,
                                             gss_OID_set* actual_mechs, OM_uint32* time_rec);
OM_uint32 gssi_store_cred_into(OM_uint32* minor, gss_cred_id_t input_cred, gss_cred_usage_t usage,
                               const gss_OID desired_mech, OM_uint32 overwrite,
                               OM_uint32 default_cred, gss_const_key_value_set_t cred_store,
                               gss_OID_set* elements_stored, gss_cred_usage_t* usage_stored);
OM_uint32 gssi_store_cred(OM_uint32* minor, gss_cred_id_t input_cred, gss_cred_usage_t usage,
                          const gss_OID desired_mech, OM_uint32 overwrite, OM_uint32 default_cred,
                          gss_OID_set* elements_stored, gss_cred_usage_t* usage_stored);
OM_uint32 gssi_export_cred(OM_uint32* minor, gss_cred_id_t cred_handle, gss_buffer_t token);
OM_uint32 gssi_import_cred(OM_uint32* minor, gss_buffer_t token, gss_cred_id_t* out);
OM_uint32 gssi_import_cred_by_mech(OM_uint32* minor, gss_OID mech, gss_buffer_t token,
                                   gss_cred_id_t* out);
OM_uint32 gssi_init_sec_context(OM_uint32* minor, gss_cred_id_t claimant,
                                gss_ctx_id_t* context_handle, gss_name_t target, gss_OID mech_type,
                                OM_uint32 req_flags, OM_uint32 time_req,
                                gss_channel_bindings_t bindings, gss_buffer_t input_token,
                                gss_OID* actual_mech, gss_buffer_t output_token,
                                OM_uint32* ret_flags, OM_uint32* time_rec);
OM_uint32 gssi_accept_sec_context(OM_uint32* minor, gss_ctx_id_t* context_handle,
                                  gss_cred_id_t acceptor_cred, gss_buffer_t input_token,
                                  gss_channel_bindings_t bindings, gss_name_t* src_name,
                                  gss_OID* mech_type, gss_buffer_t output_token,
                                  OM_uint32* ret_flags, OM_uint32* time_rec,
                                  gss_cred_id_t* delegated_cred);
OM_uint32 gssi_delete_sec_context(OM_uint32* minor, gss_ctx_id_t* context_handle,
                                  gss_buffer_t output_token);
OM_uint32 gssi_context_time(OM_uint32* minor, gss_ctx_id_t context_handle, OM_uint32* time_rec);
OM_uint32 gssi_inquire_context(OM_uint32* minor, gss_ctx_id_t context_handle, gss_name_t* src_name,
                               gss_name_t* targ_name, OM_uint32* lifetime, gss_OID* mech_type,
                               OM_uint32* ctx_flags, int* locally_initiated, int* open);
OM_uint32 gssi_wrap(OM_uint32* minor, gss_ctx_id_t context_handle, int conf_req, gss_qop_t qop,
                    gss_buffer_t input, int* conf_state, gss_buffer_t output);
OM_uint32 gssi_unwrap(OM_uint32* minor, gss_ctx_id_t context_handle, gss_buffer_t input,
                      gss_buffer_t output, int* conf_state, gss_qop_t* qop_state);
OM_uint32 gssi_get_mic(OM_uint32* minor, gss_ctx_id_t context_handle, gss_qop_t qop,
                       gss_buffer_t message, gss_buffer_t token);
OM_uint32 gssi_verify_mic(OM_uint32* minor, gss_ctx_id_t context_handle, gss_buffer_t message,
                          gss_buffer_t token, gss_qop_t* qop_state);
OM_uint32 gssi_wrap_size_limit(OM_uint32* minor, gss_ctx_id_t context_handle, int conf_req,
                               gss_qop_t qop, OM_uint32 req_output_size, OM_uint32* max_input_size);
OM_uint32 gssi_process_context_token(OM_uint32* minor, gss_ctx_id_t context_handle,
                                     gss_buffer_t token);
OM_uint32 gssi_inquire_sec_context_by_oid(OM_uint32* minor, const gss_ctx_id_t context_handle,
                                          const gss_OID desired_object, gss_buffer_set_t* data_set);
OM_uint32 gssi_wrap_iov(OM_uint32* minor, gss_ctx_id_t context_handle, int conf_req, gss_qop_t qop,
                        int* conf_state, gss_iov_buffer_desc* iov, int count);
OM_uint32 gssi_unwrap_iov(OM_uint32* minor, gss_ctx_id_t context_handle, int* conf_state,
                          gss_qop_t* qop_state, gss_iov_buffer_desc* iov, int count);
OM_uint32 gssi_wrap_iov_length(OM_uint32* minor, gss_ctx_id_t context_handle, int conf_req,
                               gss_qop_t qop, int* conf_state, gss_iov_buffer_desc* iov,
                               int count);
OM_uint32 gssi_get_mic_iov(OM_uint32* minor, gss_ctx_id_t context_handle, gss_qop_t qop,
                           gss_iov_buffer_desc* iov, int count);
OM_uint32 gssi_verify_mic_iov(OM_uint32* minor, gss_ctx_id_t context_handle, gss_qop_t* qop_state,
                              gss_iov_buffer_desc* iov, int count);
OM_uint32 gssi_get_mic_iov_length(OM_uint32* minor, gss_ctx_id_t context_handle, gss_qop_t qop,
                                  gss_iov_buffer_desc* iov, int count);
OM_uint32 gssi_export_sec_context(OM_uint32* minor, gss_ctx_id_t* context_handle,
                                  gss_buffer_t token);
OM_uint32 gssi_acquire_cred_with_password(OM_uint32* minor, const gss_name_t desired_name,
                                          const gss_buffer_t password, OM_uint32 time_req,
                                          const gss_OID_set desired_mechs, int usage,
                                          gss_cred_id_t* out, gss_OID_set* actual_mechs,
                                          OM_uint32* time_rec);
OM_uint32 gssi_inquire_cred_by_oid(OM_uint32* minor, const gss_cred_id_t cred_handle,
                                   const gss_OID desired_object, gss_buffer_set_t* data_set);
OM_uint32 gssi_set_cred_option(OM_uint32* minor, gss_cred_id_t* cred_handle,
                               const gss_OID desired_object, const gss_buffer_t value);
OM_uint32 gssi_mech_invoke(OM_uint32* minor, const gss_OID desired_mech,
                           const gss_OID desired_object, gss_buffer_t value);

#endif /* GSSGATE_INTERPOSER_H */
