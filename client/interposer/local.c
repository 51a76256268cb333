/* The gssgate interposer: GSSGATE_INTERPOSE=fallback. Where the administrator set it, a program
 * whose credential or new context gssgated cannot serve (unreachable, or its policy refuses)
 * gets MIT's own krb5 instead, with the program's own keytab and ccache, as without the module.
 * A credential or context made that way stays local for its whole life (gg_cred.local,
 * gg_ctx.local); everything else still goes to the daemon.
 *
 * The local krb5 mechanism is reached through our OID followed by krb5's (gg_local_mech), the
 * mechglue's way to call the real mechanism without coming back to the module. */
#define _GNU_SOURCE

#include <gssapi/gssapi_krb5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "interposer.h"

int gg_falls_back(OM_uint32 major, OM_uint32 minor) {
  return gg_fallback_mode() && major == GSS_S_FAILURE &&
         (minor == GG_MINOR_UNREACHABLE || minor == GG_MINOR_DENIED);
}

OM_uint32 gg_local_status(OM_uint32* minor, OM_uint32 major) {
  if (!GSS_ERROR(major) || *minor == 0) return major;
  /* MIT asks for the minor code's text right after the call, on the same thread, and would ask
   * this module (the mechanism it knows the code by); the local mechanism's text is kept now. */
  OM_uint32 ignored, context = 0;
  gss_buffer_desc text = GSS_C_EMPTY_BUFFER;
  if (gss_display_status(&ignored, *minor, GSS_C_MECH_CODE, gg_local_mech(gss_mech_krb5),
                         &context, &text) == GSS_S_COMPLETE) {
    gg_set_error(*minor, "%.*s", (int)text.length, (const char*)text.value);
    gss_release_buffer(&ignored, &text);
  }
  return major;
}

OM_uint32 gg_local_name(OM_uint32* minor, const gg_name* name, gss_name_t* out) {
  *out = GSS_C_NO_NAME;
  if (name == NULL) return GSS_S_COMPLETE;
  gss_buffer_desc value = {name->value.length, name->value.value};
  gss_OID_desc type = name->type;
  return gg_local_status(
      minor, gss_import_name(minor, &value, type.length > 0 ? &type : GSS_C_NO_OID, out));
}

gg_name* gg_name_from_local(OM_uint32* minor, gss_name_t local) {
  gss_buffer_desc shown = GSS_C_EMPTY_BUFFER, exported = GSS_C_EMPTY_BUFFER;
  gss_OID shown_type = GSS_C_NO_OID;
  OM_uint32 ignored;
  gg_name* name = NULL;
  if (gss_display_name(minor, local, &shown, &shown_type) == GSS_S_COMPLETE &&
      gss_export_name(minor, local, &exported) == GSS_S_COMPLETE) {
    Gssgate__V1__Name proto = GSSGATE__V1__NAME__INIT;
    proto.value = gg_bin(exported.value, exported.length);
    proto.name_type = gg_bin(GSS_C_NT_EXPORT_NAME->elements, GSS_C_NT_EXPORT_NAME->length);
    proto.display = gg_bin(shown.value, shown.length);
    if (shown_type != GSS_C_NO_OID) {
      proto.display_type = gg_bin(shown_type->elements, shown_type->length);
    }
    name = gg_name_from_proto(&proto);
    if (name == NULL) *minor = GG_MINOR_NOMEM;
  }
  gss_release_buffer(&ignored, &shown);
  gss_release_buffer(&ignored, &exported);
  return name;
}

OM_uint32 gg_local_mechs(OM_uint32* minor, const gss_OID_set desired, gss_OID_set* out) {
  *out = GSS_C_NO_OID_SET;
  OM_uint32 major = gss_create_empty_oid_set(minor, out);
  const size_t n = desired == GSS_C_NO_OID_SET ? 0 : desired->count;
  for (size_t i = 0; i < (n > 0 ? n : 1) && major == GSS_S_COMPLETE; ++i) {
    major = gss_add_oid_set_member(minor, gg_local_mech(n > 0 ? &desired->elements[i] : NULL), out);
  }
  if (major != GSS_S_COMPLETE) gss_release_oid_set(minor, out);
  return major;
}

OM_uint32 gg_public_mechs(OM_uint32* minor, const gss_OID_set local, gss_OID_set* out) {
  if (out == NULL) return GSS_S_COMPLETE;
  *out = GSS_C_NO_OID_SET;
  OM_uint32 major = gss_create_empty_oid_set(minor, out);
  for (size_t i = 0; local != GSS_C_NO_OID_SET && i < local->count && major == GSS_S_COMPLETE;
       ++i) {
    ProtobufCBinaryData bytes = gg_bin(local->elements[i].elements, local->elements[i].length);
    gss_OID mech = gg_static_mech(&bytes);
    if (mech == GSS_C_NO_OID) mech = gss_mech_krb5; /* our OID + krb5's: krb5 to the program */
    major = gss_add_oid_set_member(minor, mech, out);
  }
  if (major != GSS_S_COMPLETE) gss_release_oid_set(minor, out);
  return major;
}

/* ---- credentials ----------------------------------------------------------------------------- */

gg_cred* gg_cred_from_local(OM_uint32* minor, gss_cred_id_t local) {
  gg_cred* cred = calloc(1, sizeof(*cred));
  if (cred == NULL) {
    OM_uint32 ignored;
    gss_release_cred(&ignored, &local);
    gg_nomem(minor);
    return NULL;
  }
  cred->local = local;
  return cred;
}

OM_uint32 gg_local_acquire_cred(OM_uint32* minor, gss_cred_id_t impersonator,
                                const gss_buffer_t password, const gg_name* desired_name,
                                OM_uint32 time_req, const gss_OID_set desired_mechs,
                                gss_cred_usage_t usage, gss_const_key_value_set_t cred_store,
                                gss_cred_id_t* out, gss_OID_set* actual_mechs,
                                OM_uint32* time_rec) {
  OM_uint32 ignored;
  gss_name_t name = GSS_C_NO_NAME;
  gss_OID_set mechs = GSS_C_NO_OID_SET, actual = GSS_C_NO_OID_SET;
  gss_cred_id_t local = GSS_C_NO_CREDENTIAL;
  *out = GSS_C_NO_CREDENTIAL;
  if (actual_mechs != NULL) *actual_mechs = GSS_C_NO_OID_SET;
  OM_uint32 major = gg_local_name(minor, desired_name, &name);
  if (major == GSS_S_COMPLETE) major = gg_local_mechs(minor, desired_mechs, &mechs);
  if (major == GSS_S_COMPLETE) {
    if (impersonator != GSS_C_NO_CREDENTIAL) {
      major = gss_acquire_cred_impersonate_name(minor, impersonator, name, time_req, mechs, usage,
                                                &local, &actual, time_rec);
    } else if (password != GSS_C_NO_BUFFER) {
      major = gss_acquire_cred_with_password(minor, name, password, time_req, mechs, usage, &local,
                                             &actual, time_rec);
    } else {
      major = gss_acquire_cred_from(minor, name, time_req, mechs, usage, cred_store, &local,
                                    &actual, time_rec);
    }
    major = gg_local_status(minor, major);
  }
  if (!GSS_ERROR(major)) major = gg_public_mechs(minor, actual, actual_mechs);
  if (!GSS_ERROR(major)) {
    gg_cred* cred = gg_cred_from_local(minor, local);
    local = GSS_C_NO_CREDENTIAL;
    if (cred == NULL) major = GSS_S_FAILURE;
    *out = (gss_cred_id_t)cred;
  }
  if (GSS_ERROR(major) && actual_mechs != NULL) gss_release_oid_set(&ignored, actual_mechs);
  gss_release_cred(&ignored, &local);
  gss_release_name(&ignored, &name);
  gss_release_oid_set(&ignored, &mechs);
  gss_release_oid_set(&ignored, &actual);
  return major;
}

/* The name a local credential or context names, by value, into *out (NULL: not asked). */
static OM_uint32 name_out(OM_uint32* minor, OM_uint32 major, gss_name_t* local, gss_name_t* out) {
  OM_uint32 ignored;
  if (out != NULL) {
    *out = GSS_C_NO_NAME;
    if (!GSS_ERROR(major) && *local != GSS_C_NO_NAME) {
      *out = (gss_name_t)gg_name_from_local(minor, *local);
      if (*out == GSS_C_NO_NAME) major = GSS_S_FAILURE;
    }
  }
  gss_release_name(&ignored, local);
  return major;
}

OM_uint32 gg_local_inquire_cred(OM_uint32* minor, gss_cred_id_t local, gss_name_t* name,
                                OM_uint32* lifetime, gss_cred_usage_t* usage, gss_OID_set* mechs) {
  OM_uint32 ignored;
  gss_name_t local_name = GSS_C_NO_NAME;
  gss_OID_set local_mechs = GSS_C_NO_OID_SET;
  OM_uint32 major = gg_local_status(
      minor, gss_inquire_cred(minor, local, name != NULL ? &local_name : NULL, lifetime, usage,
                              mechs != NULL ? &local_mechs : NULL));
  major = name_out(minor, major, &local_name, name);
  if (!GSS_ERROR(major)) major = gg_public_mechs(minor, local_mechs, mechs);
  if (GSS_ERROR(major) && name != NULL) { /* no output survives a failure */
    gg_name_free((gg_name*)*name);
    *name = GSS_C_NO_NAME;
  }
  gss_release_oid_set(&ignored, &local_mechs);
  return major;
}

OM_uint32 gg_local_inquire_cred_by_mech(OM_uint32* minor, gss_cred_id_t local, gss_OID mech,
                                        gss_name_t* name, OM_uint32* init_lifetime,
                                        OM_uint32* accept_lifetime, gss_cred_usage_t* usage) {
  gss_name_t local_name = GSS_C_NO_NAME;
  OM_uint32 major = gg_local_status(
      minor, gss_inquire_cred_by_mech(minor, local, gg_local_mech(mech),
                                      name != NULL ? &local_name : NULL, init_lifetime,
                                      accept_lifetime, usage));
  return name_out(minor, major, &local_name, name);
}

/* ---- security contexts ----------------------------------------------------------------------- */

static gss_OID public_mech(gss_OID mech) {
  if (mech == GSS_C_NO_OID) return gss_mech_krb5;
  ProtobufCBinaryData bytes = gg_bin(mech->elements, mech->length);
  gss_OID known = gg_static_mech(&bytes);
  return known != GSS_C_NO_OID ? known : gss_mech_krb5;
}

OM_uint32 gg_local_init(OM_uint32* minor, gg_ctx* ctx, gss_cred_id_t local_cred,
                        const gg_name* target, gss_OID mech_type, OM_uint32 req_flags,
                        OM_uint32 time_req, gss_channel_bindings_t bindings,
                        gss_buffer_t input_token, gss_OID* actual_mech, gss_buffer_t output_token,
                        OM_uint32* ret_flags, OM_uint32* time_rec) {
  OM_uint32 ignored;
  gss_name_t name = GSS_C_NO_NAME;
  OM_uint32 major = gg_local_name(minor, target, &name);
  if (major != GSS_S_COMPLETE) return major;
  gss_OID actual = GSS_C_NO_OID;
  major = gss_init_sec_context(minor, local_cred, &ctx->local, name, gg_local_mech(mech_type),
                               req_flags, time_req, bindings, input_token, &actual, output_token,
                               ret_flags, time_rec);
  gss_release_name(&ignored, &name);
  if (actual_mech != NULL) *actual_mech = public_mech(actual);
  ctx->initiator = 1;
  return gg_local_status(minor, major);
}

OM_uint32 gg_local_accept(OM_uint32* minor, gg_ctx* ctx, gss_cred_id_t local_cred,
                          gss_buffer_t input_token, gss_channel_bindings_t bindings,
                          gss_name_t* src_name, gss_OID* mech_type, gss_buffer_t output_token,
                          OM_uint32* ret_flags, OM_uint32* time_rec,
                          gss_cred_id_t* delegated_cred) {
  OM_uint32 ignored;
  gss_name_t source = GSS_C_NO_NAME;
  gss_cred_id_t delegated = GSS_C_NO_CREDENTIAL, acceptor = GSS_C_NO_CREDENTIAL;
  gss_OID mech = GSS_C_NO_OID;
  OM_uint32 major = GSS_S_COMPLETE;
  if (local_cred == GSS_C_NO_CREDENTIAL && ctx->local == GSS_C_NO_CONTEXT) {
    /* gss_accept_sec_context takes the mechanism from the token (krb5), which leads back to this
     * module; MIT picks the local mechanism only from a credential that has it. So the first
     * step gets the default acceptor credential of the local mechanism. */
    major = gg_local_acquire_cred(minor, GSS_C_NO_CREDENTIAL, GSS_C_NO_BUFFER, NULL, 0,
                                  GSS_C_NO_OID_SET, GSS_C_ACCEPT, GSS_C_NO_CRED_STORE, &acceptor,
                                  NULL, NULL);
    if (GSS_ERROR(major)) return major;
    local_cred = ((gg_cred*)acceptor)->local;
  }
  major = gg_local_status(
      minor, gss_accept_sec_context(minor, &ctx->local, local_cred, input_token, bindings,
                                    &source, &mech, output_token, ret_flags, time_rec,
                                    delegated_cred != NULL ? &delegated : NULL));
  if (acceptor != GSS_C_NO_CREDENTIAL) {
    gss_release_cred(&ignored, &((gg_cred*)acceptor)->local);
    free(acceptor);
  }
  ctx->initiator = 0;
  if (mech_type != NULL) *mech_type = public_mech(mech);
  major = name_out(minor, major, &source, src_name);
  if (delegated != GSS_C_NO_CREDENTIAL) {
    if (!GSS_ERROR(major)) {
      *delegated_cred = (gss_cred_id_t)gg_cred_from_local(minor, delegated);
      if (*delegated_cred == GSS_C_NO_CREDENTIAL) major = GSS_S_FAILURE;
    } else {
      gss_release_cred(&ignored, &delegated);
    }
  }
  if (GSS_ERROR(major) && src_name != NULL && *src_name != GSS_C_NO_NAME) {
    gg_name_free((gg_name*)*src_name);
    *src_name = GSS_C_NO_NAME;
  }
  return major;
}

OM_uint32 gg_local_inquire_context(OM_uint32* minor, const gg_ctx* ctx, gss_name_t* src_name,
                                   gss_name_t* targ_name, OM_uint32* lifetime, gss_OID* mech_type,
                                   OM_uint32* ctx_flags, int* locally_initiated, int* open) {
  gss_name_t source = GSS_C_NO_NAME, target = GSS_C_NO_NAME;
  gss_OID mech = GSS_C_NO_OID;
  OM_uint32 major = gg_local_status(
      minor, gss_inquire_context(minor, ctx->local, src_name != NULL ? &source : NULL,
                                 targ_name != NULL ? &target : NULL, lifetime, &mech, ctx_flags,
                                 locally_initiated, open));
  if (mech_type != NULL) *mech_type = public_mech(mech);
  major = name_out(minor, major, &source, src_name);
  OM_uint32 target_major = name_out(minor, major, &target, targ_name);
  if (GSS_ERROR(target_major) && src_name != NULL) {
    gg_name_free((gg_name*)*src_name);
    *src_name = GSS_C_NO_NAME;
  }
  return target_major;
}

/* ---- exported credentials -------------------------------------------------------------------- */

/* A local credential's export token is MIT's own, behind this marker so that gssi_import_cred
 * tells it from the daemon's sealed tokens ("GGS1..."). */
static const char kLocalCredMarker[4] = {'G', 'G', 'L', '1'};

OM_uint32 gg_local_export_cred(OM_uint32* minor, gss_cred_id_t local, gss_buffer_t token) {
  OM_uint32 ignored;
  gss_buffer_desc mit = GSS_C_EMPTY_BUFFER;
  OM_uint32 major = gg_local_status(minor, gss_export_cred(minor, local, &mit));
  if (GSS_ERROR(major)) return major;
  token->value = malloc(sizeof(kLocalCredMarker) + mit.length);
  if (token->value == NULL) {
    major = gg_nomem(minor);
  } else {
    memcpy(token->value, kLocalCredMarker, sizeof(kLocalCredMarker));
    if (mit.length > 0) memcpy((char*)token->value + sizeof(kLocalCredMarker), mit.value, mit.length);
    token->length = sizeof(kLocalCredMarker) + mit.length;
  }
  gss_release_buffer(&ignored, &mit);
  return major;
}

int gg_is_local_cred_token(const void* bytes, size_t len) {
  return len >= sizeof(kLocalCredMarker) &&
         memcmp(bytes, kLocalCredMarker, sizeof(kLocalCredMarker)) == 0;
}

static uint32_t load_be32(const uint8_t* p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static void store_be32(uint8_t* p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

/* MIT's token names each element's mechanism by its public OID, which would bring the import
 * back to this module; the local mechanism's OID (ours followed by krb5's) replaces it. */
/* Each element of MIT's token: a 4-byte OID length, the OID, a 4-byte token length, the token.
 * The size of the element at `in` (with `left` bytes from there), or 0 if it does not fit. */
static size_t element_size(const uint8_t* in, size_t left) {
  if (left < 8) return 0;
  const size_t oid_len = load_be32(in);
  if (oid_len > left - 8) return 0;
  const size_t token_len = load_be32(in + 4 + oid_len);
  if (token_len > left - 8 - oid_len) return 0;
  return 8 + oid_len + token_len;
}

/* MIT's token names each element's mechanism by its public OID, which would bring the import
 * back to this module; the local mechanism's OID (ours followed by krb5's) replaces it. */
OM_uint32 gg_local_import_cred(OM_uint32* minor, const void* bytes, size_t len,
                               gss_cred_id_t* out) {
  const uint8_t* const start = (const uint8_t*)bytes + sizeof(kLocalCredMarker);
  const size_t total = len - sizeof(kLocalCredMarker);
  /* First pass: every element well formed, and the size of the rewritten token. */
  size_t rewritten_size = 0;
  for (size_t at = 0, size; at < total; at += size) {
    if ((size = element_size(start + at, total - at)) == 0) {
      *minor = GG_MINOR_BAD_TOKEN;
      gg_set_error(*minor, "gssgate: the exported credential token is cut short or malformed");
      return GSS_S_DEFECTIVE_TOKEN;
    }
    gss_OID_desc oid = {load_be32(start + at), (void*)(start + at + 4)};
    rewritten_size += size - oid.length + gg_local_mech(&oid)->length;
  }
  uint8_t* rewritten = malloc(rewritten_size > 0 ? rewritten_size : 1);
  if (rewritten == NULL) return gg_nomem(minor);
  size_t written = 0;
  for (size_t at = 0, size; at < total; at += size) {
    size = element_size(start + at, total - at);
    gss_OID_desc oid = {load_be32(start + at), (void*)(start + at + 4)};
    const gss_OID local = gg_local_mech(&oid);
    store_be32(rewritten + written, local->length);
    memcpy(rewritten + written + 4, local->elements, local->length);
    written += 4 + local->length;
    memcpy(rewritten + written, start + at + 4 + oid.length, size - 4 - oid.length);
    written += size - 4 - oid.length;
  }
  gss_buffer_desc token = {written, rewritten};
  gss_cred_id_t local = GSS_C_NO_CREDENTIAL;
  OM_uint32 major = gg_local_status(minor, gss_import_cred(minor, &token, &local));
  if (major == GSS_S_COMPLETE) {
    *out = (gss_cred_id_t)gg_cred_from_local(minor, local);
    if (*out == GSS_C_NO_CREDENTIAL) major = GSS_S_FAILURE;
  }
  free(rewritten);
  return major;
}

/* gssspi_mech_invoke: MIT's krb5 settings of the process, gss_krb5_ccache_name and
 * gsskrb5_register_acceptor_identity among them. They are the program's own krb5 state (a
 * ccache name, a keytab), so they go to MIT's krb5 in the program, where they steer what runs
 * there: password credentials, the fallback mode. gssgated's credentials come from the caller's
 * rule, whatever the program names here (as whatever KRB5CCNAME says). */
GG_EXPORT OM_uint32 gssi_mech_invoke(OM_uint32* minor, const gss_OID desired_mech,
                                     const gss_OID desired_object, gss_buffer_t value) {
  return gg_local_status(
      minor, gssspi_mech_invoke(minor, gg_local_mech(desired_mech), desired_object, value));
}
