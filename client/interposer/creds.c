/* The gssgate interposer: credentials, each a handle in gssgated. Releasing one costs no round
 * trip of its own (its release rides on the connection's next call). What a credential may be
 * used for, stored into or exported as is the daemon's policy: the module only carries the
 * program's request there and the daemon's answer back. */
#define _GNU_SOURCE

#include <gssapi/gssapi_krb5.h>
#include <stdlib.h>
#include <string.h>

#include "interposer.h"

static Gssgate__V1__CredUsage usage_to_proto(gss_cred_usage_t usage) {
  switch (usage) {
    case GSS_C_INITIATE:
      return GSSGATE__V1__CRED_USAGE__CRED_USAGE_INITIATE;
    case GSS_C_ACCEPT:
      return GSSGATE__V1__CRED_USAGE__CRED_USAGE_ACCEPT;
    default:
      return GSSGATE__V1__CRED_USAGE__CRED_USAGE_BOTH;
  }
}

static gss_cred_usage_t usage_from_proto(Gssgate__V1__CredUsage usage) {
  switch (usage) {
    case GSSGATE__V1__CRED_USAGE__CRED_USAGE_INITIATE:
      return GSS_C_INITIATE;
    case GSSGATE__V1__CRED_USAGE__CRED_USAGE_ACCEPT:
      return GSS_C_ACCEPT;
    default:
      return GSS_C_BOTH;
  }
}

/* A set of the mechanisms a reply names, as library constants. */
static OM_uint32 mech_set(OM_uint32* minor, ProtobufCBinaryData* mechs, size_t n,
                          gss_OID_set* out) {
  if (out == NULL) return GSS_S_COMPLETE;
  *out = GSS_C_NO_OID_SET;
  if (gss_create_empty_oid_set(minor, out) != GSS_S_COMPLETE) return gg_nomem(minor);
  for (size_t i = 0; i < n; ++i) {
    gss_OID mech = gg_static_mech(&mechs[i]);
    if (mech != GSS_C_NO_OID && gss_add_oid_set_member(minor, mech, out) != GSS_S_COMPLETE) {
      gss_release_oid_set(minor, out);
      return gg_nomem(minor);
    }
  }
  return GSS_S_COMPLETE;
}

/* The program's credential for a handle the daemon returned, with the set of its mechanisms
 * (when `actual_mechs` is not NULL). A reply without a handle is refused; on any failure the
 * handle is let go of in the daemon and *out stays GSS_C_NO_CREDENTIAL. */
static OM_uint32 new_cred(OM_uint32* minor, const ProtobufCBinaryData* handle,
                          ProtobufCBinaryData* mechs, size_t n_mechs, gss_cred_id_t* out,
                          gss_OID_set* actual_mechs) {
  *out = GSS_C_NO_CREDENTIAL;
  if (handle->len == 0) {
    /* Not the daemon as it is written: something else on the socket, or a garbled reply. */
    *minor = GG_MINOR_DAEMON;
    gg_set_error(*minor, "gssgate: gssgated's reply carries no credential handle");
    return GSS_S_FAILURE;
  }
  gg_cred* cred = calloc(1, sizeof(*cred));
  if (cred == NULL || !gg_handle_set(&cred->handle, handle)) {
    free(cred);
    gg_release_returned(handle, 1);
    return gg_nomem(minor);
  }
  OM_uint32 major = mech_set(minor, mechs, n_mechs, actual_mechs);
  if (GSS_ERROR(major)) {
    gg_release_handle(&cred->handle, 1);
    free(cred);
    return major;
  }
  *out = (gss_cred_id_t)cred;
  return GSS_S_COMPLETE;
}

/* The mechanism a call names, as the daemon knows it: the public krb5 OIDs as they are, our
 * concatenated OID (a call that came back through the mechglue) as the krb5 OID it stands for,
 * and no mechanism as empty (every mechanism of the credential). */
static ProtobufCBinaryData mech_bytes(gss_const_OID mech) {
  if (mech == GSS_C_NO_OID) return gg_bin(NULL, 0);
  ProtobufCBinaryData bytes = gg_bin(mech->elements, mech->length);
  if (gg_static_mech(&bytes) != GSS_C_NO_OID) return bytes;
  const gss_OID mechs[] = {gss_mech_krb5, gss_mech_krb5_old, gss_mech_krb5_wrong};
  for (size_t i = 0; i < sizeof(mechs) / sizeof(mechs[0]); ++i) {
    const gss_OID local = gg_local_mech(mechs[i]);
    if (mech->length == local->length &&
        memcmp(mech->elements, local->elements, mech->length) == 0) {
      return gg_bin(mechs[i]->elements, mechs[i]->length);
    }
  }
  return bytes;
}

/* A name a reply carries, by value, into *out (NULL: not asked; GSS_C_NO_NAME: none sent). */
static OM_uint32 reply_name(OM_uint32* minor, const Gssgate__V1__Name* proto, gss_name_t* out) {
  if (out == NULL) return GSS_S_COMPLETE;
  *out = GSS_C_NO_NAME;
  if (proto == NULL) return GSS_S_COMPLETE;
  *out = (gss_name_t)gg_name_from_proto(proto);
  return *out == GSS_C_NO_NAME ? gg_nomem(minor) : GSS_S_COMPLETE;
}

/* ---- credentials ----------------------------------------------------------------------------- */

GG_EXPORT OM_uint32 gssi_acquire_cred_from(OM_uint32* minor, const gss_name_t desired_name,
                                           OM_uint32 time_req, const gss_OID_set desired_mechs,
                                           gss_cred_usage_t usage,
                                           gss_const_key_value_set_t cred_store, gss_cred_id_t* out,
                                           gss_OID_set* actual_mechs, OM_uint32* time_rec) {
  *out = GSS_C_NO_CREDENTIAL;
  Gssgate__V1__AcquireCredsRequest request = GSSGATE__V1__ACQUIRE_CREDS_REQUEST__INIT;
  Gssgate__V1__Name name;
  if (desired_name != GSS_C_NO_NAME) {
    gg_name_to_proto((const gg_name*)desired_name, &name);
    request.name = &name;
  }
  request.lifetime = time_req == GSS_C_INDEFINITE ? 0 : time_req;
  request.usage = usage_to_proto(usage);
  /* Sized to what the program passed: nothing it names may be dropped on the way (a store
   * element left out could change which credential the daemon picks). */
  const size_t n_mechs = desired_mechs == GSS_C_NO_OID_SET ? 0 : desired_mechs->count;
  const size_t n_store = cred_store == GSS_C_NO_CRED_STORE ? 0 : cred_store->count;
  ProtobufCBinaryData* mechs = calloc(n_mechs + 1, sizeof(*mechs));
  Gssgate__V1__AcquireCredsRequest__StoreEntry* entries = calloc(n_store + 1, sizeof(*entries));
  Gssgate__V1__AcquireCredsRequest__StoreEntry** entry_ptrs =
      calloc(n_store + 1, sizeof(*entry_ptrs));
  if (mechs == NULL || entries == NULL || entry_ptrs == NULL) {
    free(mechs);
    free(entries);
    free(entry_ptrs);
    return gg_nomem(minor);
  }
  for (size_t i = 0; i < n_mechs; ++i) {
    mechs[i] = gg_bin(desired_mechs->elements[i].elements, desired_mechs->elements[i].length);
  }
  request.n_mechs = n_mechs;
  request.mechs = mechs;
  /* Store elements the program names (a keytab, a ccache) go to the daemon, which allows only
   * those the caller's rule names. */
  for (size_t i = 0; i < n_store; ++i) {
    gssgate__v1__acquire_creds_request__store_entry__init(&entries[i]);
    entries[i].key = (char*)cred_store->elements[i].key;
    entries[i].value = (char*)cred_store->elements[i].value;
    entry_ptrs[i] = &entries[i];
  }
  request.n_store = n_store;
  request.store = entry_ptrs;
  ProtobufCMessage* reply;
  OM_uint32 major = gg_call(minor, "AcquireCreds", &request.base, &reply, GSS_S_NO_CRED);
  free(mechs);
  free(entries);
  free(entry_ptrs);
  if (gg_falls_back(major, *minor)) {
    return gg_local_acquire_cred(minor, GSS_C_NO_CREDENTIAL, GSS_C_NO_BUFFER,
                                 (const gg_name*)desired_name, time_req, desired_mechs, usage,
                                 cred_store, out, actual_mechs, time_rec);
  }
  if (major != GSS_S_COMPLETE) return major;
  Gssgate__V1__AcquireCredsReply* acquired = (Gssgate__V1__AcquireCredsReply*)reply;
  major = gg_reply_status(minor, acquired->status);
  if (!GSS_ERROR(major)) {
    major = new_cred(minor, &acquired->creds, acquired->mechs, acquired->n_mechs, out,
                     actual_mechs);
  }
  if (!GSS_ERROR(major)) gg_set_lifetime(time_rec, acquired->lifetime);
  protobuf_c_message_free_unpacked(reply, NULL);
  return major;
}

/* MIT needs this one present, even where it calls the _from form. */
GG_EXPORT OM_uint32 gssi_acquire_cred(OM_uint32* minor, const gss_name_t desired_name,
                                      OM_uint32 time_req, const gss_OID_set desired_mechs,
                                      gss_cred_usage_t usage, gss_cred_id_t* out,
                                      gss_OID_set* actual_mechs, OM_uint32* time_rec) {
  return gssi_acquire_cred_from(minor, desired_name, time_req, desired_mechs, usage,
                                GSS_C_NO_CRED_STORE, out, actual_mechs, time_rec);
}

GG_EXPORT OM_uint32 gssi_release_cred(OM_uint32* minor, gss_cred_id_t* cred_handle) {
  *minor = 0;
  gg_cred* cred = (gg_cred*)*cred_handle;
  if (cred == NULL) return GSS_S_COMPLETE;
  if (cred->local != GSS_C_NO_CREDENTIAL) gss_release_cred(minor, &cred->local);
  gg_release_handle(&cred->handle, 1);
  free(cred);
  *cred_handle = GSS_C_NO_CREDENTIAL;
  return GSS_S_COMPLETE;
}

GG_EXPORT OM_uint32 gssi_inquire_cred(OM_uint32* minor, gss_cred_id_t cred_handle, gss_name_t* name,
                                      OM_uint32* lifetime, gss_cred_usage_t* usage,
                                      gss_OID_set* mechs) {
  const gg_cred* cred = (const gg_cred*)cred_handle;
  if (cred == NULL) return GSS_S_NO_CRED;
  if (cred->local != GSS_C_NO_CREDENTIAL) {
    return gg_local_inquire_cred(minor, cred->local, name, lifetime, usage, mechs);
  }
  if (!gg_handle_current(minor, &cred->handle, "credential")) return GSS_S_NO_CRED;
  Gssgate__V1__InquireCredRequest request = GSSGATE__V1__INQUIRE_CRED_REQUEST__INIT;
  request.creds = gg_bin(cred->handle.data, cred->handle.len);
  ProtobufCMessage* reply;
  OM_uint32 major = gg_call(minor, "InquireCred", &request.base, &reply, GSS_S_NO_CRED);
  if (major != GSS_S_COMPLETE) return major;
  Gssgate__V1__InquireCredReply* inquired = (Gssgate__V1__InquireCredReply*)reply;
  major = gg_reply_status(minor, inquired->status);
  if (!GSS_ERROR(major)) {
    major = reply_name(minor, inquired->name, name);
    gg_set_lifetime(lifetime, inquired->lifetime);
    if (usage != NULL) *usage = usage_from_proto(inquired->usage);
    if (!GSS_ERROR(major)) major = mech_set(minor, inquired->mechs, inquired->n_mechs, mechs);
    if (GSS_ERROR(major) && name != NULL) {
      gg_name_free((gg_name*)*name); /* no output survives a failure */
      *name = GSS_C_NO_NAME;
    }
  }
  protobuf_c_message_free_unpacked(reply, NULL);
  return major;
}

GG_EXPORT OM_uint32 gssi_inquire_cred_by_mech(OM_uint32* minor, gss_cred_id_t cred_handle,
                                              gss_OID mech, gss_name_t* name,
                                              OM_uint32* init_lifetime, OM_uint32* accept_lifetime,
                                              gss_cred_usage_t* usage) {
  const gg_cred* cred = (const gg_cred*)cred_handle;
  if (cred == NULL) return GSS_S_NO_CRED;
  if (cred->local != GSS_C_NO_CREDENTIAL) {
    return gg_local_inquire_cred_by_mech(minor, cred->local, mech, name, init_lifetime,
                                         accept_lifetime, usage);
  }
  if (!gg_handle_current(minor, &cred->handle, "credential")) return GSS_S_NO_CRED;
  Gssgate__V1__InquireCredByMechRequest request = GSSGATE__V1__INQUIRE_CRED_BY_MECH_REQUEST__INIT;
  request.creds = gg_bin(cred->handle.data, cred->handle.len);
  if (mech != GSS_C_NO_OID) request.mech = gg_bin(mech->elements, mech->length);
  ProtobufCMessage* reply;
  OM_uint32 major = gg_call(minor, "InquireCredByMech", &request.base, &reply, GSS_S_NO_CRED);
  if (major != GSS_S_COMPLETE) return major;
  Gssgate__V1__InquireCredByMechReply* inquired = (Gssgate__V1__InquireCredByMechReply*)reply;
  major = gg_reply_status(minor, inquired->status);
  if (!GSS_ERROR(major)) {
    major = reply_name(minor, inquired->name, name);
    gg_set_lifetime(init_lifetime, inquired->init_lifetime);
    gg_set_lifetime(accept_lifetime, inquired->accept_lifetime);
    if (usage != NULL) *usage = usage_from_proto(inquired->usage);
  }
  protobuf_c_message_free_unpacked(reply, NULL);
  return major;
}


/* ---- S4U2Self, storing, export and import ---------------------------------------------------- */

/* gss_acquire_cred_impersonate_name, and gss_add_cred_impersonate_name (which MIT's mechglue
 * carries out with this entry point): credentials for `desired_name` from the impersonator's,
 * where the caller's rule grants impersonate for that principal. */
GG_EXPORT OM_uint32 gssi_acquire_cred_impersonate_name(
    OM_uint32* minor, const gss_cred_id_t impersonator_cred, const gss_name_t desired_name,
    OM_uint32 time_req, const gss_OID_set desired_mechs, gss_cred_usage_t usage,
    gss_cred_id_t* out, gss_OID_set* actual_mechs, OM_uint32* time_rec) {
  *out = GSS_C_NO_CREDENTIAL;
  const gg_cred* impersonator = (const gg_cred*)impersonator_cred;
  if (impersonator == NULL) return GSS_S_NO_CRED;
  if (impersonator->local != GSS_C_NO_CREDENTIAL) {
    return gg_local_acquire_cred(minor, impersonator->local, GSS_C_NO_BUFFER,
                                 (const gg_name*)desired_name, time_req, desired_mechs, usage,
                                 GSS_C_NO_CRED_STORE, out, actual_mechs, time_rec);
  }
  if (!gg_handle_current(minor, &impersonator->handle, "credential")) return GSS_S_NO_CRED;
  if (desired_name == GSS_C_NO_NAME) return GSS_S_BAD_NAME;
  Gssgate__V1__AcquireCredImpersonateNameRequest request =
      GSSGATE__V1__ACQUIRE_CRED_IMPERSONATE_NAME_REQUEST__INIT;
  request.impersonator = gg_bin(impersonator->handle.data, impersonator->handle.len);
  Gssgate__V1__Name name;
  gg_name_to_proto((const gg_name*)desired_name, &name);
  request.name = &name;
  request.lifetime = time_req == GSS_C_INDEFINITE ? 0 : time_req;
  request.usage = usage_to_proto(usage);
  const size_t n_mechs = desired_mechs == GSS_C_NO_OID_SET ? 0 : desired_mechs->count;
  ProtobufCBinaryData* mechs = calloc(n_mechs + 1, sizeof(*mechs));
  if (mechs == NULL) return gg_nomem(minor);
  for (size_t i = 0; i < n_mechs; ++i) mechs[i] = mech_bytes(&desired_mechs->elements[i]);
  request.n_mechs = n_mechs;
  request.mechs = mechs;
  ProtobufCMessage* reply;
  OM_uint32 major =
      gg_call(minor, "AcquireCredImpersonateName", &request.base, &reply, GSS_S_NO_CRED);
  free(mechs);
  if (major != GSS_S_COMPLETE) return major;
  Gssgate__V1__AcquireCredImpersonateNameReply* acquired =
      (Gssgate__V1__AcquireCredImpersonateNameReply*)reply;
  major = gg_reply_status(minor, acquired->status);
  if (!GSS_ERROR(major)) {
    major = new_cred(minor, &acquired->creds, acquired->mechs, acquired->n_mechs, out,
                     actual_mechs);
  }
  if (!GSS_ERROR(major)) gg_set_lifetime(time_rec, acquired->lifetime);
  protobuf_c_message_free_unpacked(reply, NULL);
  return major;
}

/* gss_store_cred_into: the daemon writes the credential into the caller's ccache (the rule's,
 * or the caller's own in-daemon cache), where the rule grants store_creds; a `cred_store` may
 * only name that ccache again. */
GG_EXPORT OM_uint32 gssi_store_cred_into(OM_uint32* minor, gss_cred_id_t input_cred,
                                         gss_cred_usage_t usage, const gss_OID desired_mech,
                                         OM_uint32 overwrite, OM_uint32 default_cred,
                                         gss_const_key_value_set_t cred_store,
                                         gss_OID_set* elements_stored,
                                         gss_cred_usage_t* usage_stored) {
  if (elements_stored != NULL) *elements_stored = GSS_C_NO_OID_SET;
  const gg_cred* cred = (const gg_cred*)input_cred;
  if (cred == NULL) return GSS_S_NO_CRED;
  if (cred->local != GSS_C_NO_CREDENTIAL) {
    gss_OID_set stored = GSS_C_NO_OID_SET;
    OM_uint32 major = gg_local_status(
        minor, gss_store_cred_into(minor, cred->local, usage, gg_local_mech(desired_mech),
                                   overwrite, default_cred, cred_store,
                                   elements_stored != NULL ? &stored : NULL, usage_stored));
    if (!GSS_ERROR(major)) major = gg_public_mechs(minor, stored, elements_stored);
    OM_uint32 ignored;
    gss_release_oid_set(&ignored, &stored);
    return major;
  }
  if (!gg_handle_current(minor, &cred->handle, "credential")) return GSS_S_NO_CRED;
  Gssgate__V1__StoreCredRequest request = GSSGATE__V1__STORE_CRED_REQUEST__INIT;
  request.creds = gg_bin(cred->handle.data, cred->handle.len);
  request.usage = usage_to_proto(usage);
  request.mech = mech_bytes(desired_mech);
  request.overwrite = overwrite != 0;
  request.default_cred = default_cred != 0;
  const size_t n_store = cred_store == GSS_C_NO_CRED_STORE ? 0 : cred_store->count;
  Gssgate__V1__StoreCredRequest__StoreEntry* entries = calloc(n_store + 1, sizeof(*entries));
  Gssgate__V1__StoreCredRequest__StoreEntry** entry_ptrs =
      calloc(n_store + 1, sizeof(*entry_ptrs));
  if (entries == NULL || entry_ptrs == NULL) {
    free(entries);
    free(entry_ptrs);
    return gg_nomem(minor);
  }
  for (size_t i = 0; i < n_store; ++i) {
    gssgate__v1__store_cred_request__store_entry__init(&entries[i]);
    entries[i].key = (char*)cred_store->elements[i].key;
    entries[i].value = (char*)cred_store->elements[i].value;
    entry_ptrs[i] = &entries[i];
  }
  request.n_store = n_store;
  request.store = entry_ptrs;
  ProtobufCMessage* reply;
  OM_uint32 major = gg_call(minor, "StoreCred", &request.base, &reply, GSS_S_NO_CRED);
  free(entries);
  free(entry_ptrs);
  if (major != GSS_S_COMPLETE) return major;
  Gssgate__V1__StoreCredReply* stored = (Gssgate__V1__StoreCredReply*)reply;
  major = gg_reply_status(minor, stored->status);
  if (!GSS_ERROR(major)) {
    if (usage_stored != NULL) *usage_stored = usage_from_proto(stored->usage);
    major = mech_set(minor, stored->mechs, stored->n_mechs, elements_stored);
  }
  protobuf_c_message_free_unpacked(reply, NULL);
  return major;
}

GG_EXPORT OM_uint32 gssi_store_cred(OM_uint32* minor, gss_cred_id_t input_cred,
                                    gss_cred_usage_t usage, const gss_OID desired_mech,
                                    OM_uint32 overwrite, OM_uint32 default_cred,
                                    gss_OID_set* elements_stored, gss_cred_usage_t* usage_stored) {
  return gssi_store_cred_into(minor, input_cred, usage, desired_mech, overwrite, default_cred,
                              GSS_C_NO_CRED_STORE, elements_stored, usage_stored);
}

/* gss_export_cred: the daemon's sealed token, where the rule grants export_creds. It holds no
 * key the program can use: only ImportCred of the same running daemon opens it. */
GG_EXPORT OM_uint32 gssi_export_cred(OM_uint32* minor, gss_cred_id_t cred_handle,
                                     gss_buffer_t token) {
  token->length = 0;
  token->value = NULL;
  const gg_cred* cred = (const gg_cred*)cred_handle;
  if (cred == NULL) return GSS_S_NO_CRED;
  if (cred->local != GSS_C_NO_CREDENTIAL) return gg_local_export_cred(minor, cred->local, token);
  if (!gg_handle_current(minor, &cred->handle, "credential")) return GSS_S_NO_CRED;
  Gssgate__V1__ExportCredRequest request = GSSGATE__V1__EXPORT_CRED_REQUEST__INIT;
  request.creds = gg_bin(cred->handle.data, cred->handle.len);
  ProtobufCMessage* reply;
  OM_uint32 major = gg_call(minor, "ExportCred", &request.base, &reply, GSS_S_NO_CRED);
  if (major != GSS_S_COMPLETE) return major;
  Gssgate__V1__ExportCredReply* exported = (Gssgate__V1__ExportCredReply*)reply;
  major = gg_reply_status(minor, exported->status);
  if (!GSS_ERROR(major) && !gg_buffer_set(token, exported->token.data, exported->token.len)) {
    major = gg_nomem(minor);
  }
  protobuf_c_message_free_unpacked(reply, NULL);
  return major;
}

GG_EXPORT OM_uint32 gssi_import_cred(OM_uint32* minor, gss_buffer_t token, gss_cred_id_t* out) {
  *out = GSS_C_NO_CREDENTIAL;
  if (token == GSS_C_NO_BUFFER || token->length == 0) return GSS_S_DEFECTIVE_TOKEN;
  if (gg_is_local_cred_token(token->value, token->length)) {
    return gg_local_import_cred(minor, token->value, token->length, out);
  }
  Gssgate__V1__ImportCredRequest request = GSSGATE__V1__IMPORT_CRED_REQUEST__INIT;
  request.token = gg_bin(token->value, token->length);
  ProtobufCMessage* reply;
  OM_uint32 major = gg_call(minor, "ImportCred", &request.base, &reply, GSS_S_NO_CRED);
  if (major != GSS_S_COMPLETE) return major;
  Gssgate__V1__ImportCredReply* imported = (Gssgate__V1__ImportCredReply*)reply;
  major = gg_reply_status(minor, imported->status);
  if (!GSS_ERROR(major)) major = new_cred(minor, &imported->creds, NULL, 0, out, NULL);
  protobuf_c_message_free_unpacked(reply, NULL);
  return major;
}

/* MIT prefers this form when a module has it; the token names no mechanism of its own. */
GG_EXPORT OM_uint32 gssi_import_cred_by_mech(OM_uint32* minor, gss_OID mech, gss_buffer_t token,
                                             gss_cred_id_t* out) {
  (void)mech;
  return gssi_import_cred(minor, token, out);
}

/* ---- passwords and credential options ----------------------------------------------------- */

/* gss_acquire_cred_with_password, and gss_add_cred_with_password (which MIT's mechglue carries out
 * with this entry point). The program holds the password, so MIT's own krb5 asks the KDC for the
 * tickets in the program, as gssproxy's module does; gssgated holds nothing for it, and the
 * credential, and the contexts made with it, are the program's own (local.c). Only initiator
 * credentials, in every mode: an acceptor's keys are gssgated's, and MIT would read the program's
 * keytab for the acceptor half, which is no source of keys once the module interposes (fallback
 * mode uses it only when gssgated cannot serve, and gssgated serves acceptors). */
GG_EXPORT OM_uint32 gssi_acquire_cred_with_password(OM_uint32* minor, const gss_name_t desired_name,
                                                    const gss_buffer_t password, OM_uint32 time_req,
                                                    const gss_OID_set desired_mechs, int usage,
                                                    gss_cred_id_t* out, gss_OID_set* actual_mechs,
                                                    OM_uint32* time_rec) {
  *out = GSS_C_NO_CREDENTIAL;
  if (actual_mechs != NULL) *actual_mechs = GSS_C_NO_OID_SET;
  if (desired_name == GSS_C_NO_NAME || password == GSS_C_NO_BUFFER) {
    *minor = 0;
    return GSS_S_CALL_INACCESSIBLE_READ;
  }
  if (usage != GSS_C_INITIATE) {
    *minor = GG_MINOR_UNSUPPORTED;
    gg_set_error(*minor,
                 "gssgate: a password gives initiator credentials only (usage initiate): an "
                 "acceptor's keys are gssgated's, so acquire the acceptor credential without a "
                 "password");
    return GSS_S_FAILURE;
  }
  return gg_local_acquire_cred(minor, GSS_C_NO_CREDENTIAL, password, (const gg_name*)desired_name,
                               time_req, desired_mechs, (gss_cred_usage_t)usage,
                               GSS_C_NO_CRED_STORE, out, actual_mechs, time_rec);
}

/* gss_inquire_cred_by_oid: gssgated answers MIT's impersonator inquiry
 * (GSS_KRB5_GET_CRED_IMPERSONATOR, what a credential obtained by S4U2Proxy names) and refuses
 * other OIDs (gssgate.proto, InquireCredByOid). */
GG_EXPORT OM_uint32 gssi_inquire_cred_by_oid(OM_uint32* minor, const gss_cred_id_t cred_handle,
                                             const gss_OID desired_object,
                                             gss_buffer_set_t* data_set) {
  *data_set = GSS_C_NO_BUFFER_SET;
  const gg_cred* cred = (const gg_cred*)cred_handle;
  if (cred == NULL) return GSS_S_NO_CRED;
  if (cred->local != GSS_C_NO_CREDENTIAL) {
    return gg_local_status(minor,
                           gss_inquire_cred_by_oid(minor, cred->local, desired_object, data_set));
  }
  if (desired_object == GSS_C_NO_OID) {
    *minor = 0;
    return GSS_S_CALL_INACCESSIBLE_READ;
  }
  if (!gg_handle_current(minor, &cred->handle, "credential")) return GSS_S_NO_CRED;
  Gssgate__V1__InquireCredByOidRequest request = GSSGATE__V1__INQUIRE_CRED_BY_OID_REQUEST__INIT;
  request.creds = gg_bin(cred->handle.data, cred->handle.len);
  request.oid = gg_bin(desired_object->elements, desired_object->length);
  ProtobufCMessage* reply;
  OM_uint32 major = gg_call(minor, "InquireCredByOid", &request.base, &reply, GSS_S_NO_CRED);
  if (major != GSS_S_COMPLETE) return major;
  Gssgate__V1__InquireCredByOidReply* got = (Gssgate__V1__InquireCredByOidReply*)reply;
  major = gg_reply_status(minor, got->status);
  if (!GSS_ERROR(major)) major = gg_buffer_set_of(minor, got->values, got->n_values, data_set);
  protobuf_c_message_free_unpacked(reply, NULL);
  return major;
}

/* MIT's request behind gss_krb5_set_allowable_enctypes (gssapiP_krb5.h,
 * krb5_gss_set_allowable_enctypes_req), with its option's OID, 1.2.840.113554.1.2.2.5.4 (the
 * daemon has the same, daemon/handlers/set_cred_option.cc). */
struct allowable_enctypes_req {
  OM_uint32 num_ktypes;
  krb5_enctype* ktypes;
};
static const gss_OID_desc allowable_enctypes_oid = {
    11, (void*)"\x2a\x86\x48\x86\xf7\x12\x01\x02\x02\x05\x04"};
/* As many enctypes as gssgated takes in one request (set_cred_option.cc, kMaxEnctypes). */
enum { MAX_ENCTYPES = 64 };

/* gss_set_cred_option, and gss_krb5_set_allowable_enctypes (which MIT's mechglue carries out with
 * this entry point): gssgated sets the options that only narrow a credential (the allowable
 * enctypes, GSS_KRB5_CRED_NO_CI_FLAGS_X) and refuses the others, which carry pointers into this
 * process (gssgate.proto, SetCredOption). The enctypes are read here, where the pointer is
 * the program's, and sent as numbers. */
GG_EXPORT OM_uint32 gssi_set_cred_option(OM_uint32* minor, gss_cred_id_t* cred_handle,
                                         const gss_OID desired_object, const gss_buffer_t value) {
  gg_cred* cred = cred_handle != NULL ? (gg_cred*)*cred_handle : NULL;
  *minor = 0;
  if (cred == NULL) return GSS_S_NO_CRED;
  if (desired_object == GSS_C_NO_OID) return GSS_S_CALL_INACCESSIBLE_READ;
  if (cred->local != GSS_C_NO_CREDENTIAL) {
    return gg_local_status(minor, gss_set_cred_option(minor, &cred->local, desired_object, value));
  }
  if (!gg_handle_current(minor, &cred->handle, "credential")) return GSS_S_NO_CRED;
  Gssgate__V1__SetCredOptionRequest request = GSSGATE__V1__SET_CRED_OPTION_REQUEST__INIT;
  request.creds = gg_bin(cred->handle.data, cred->handle.len);
  request.oid = gg_bin(desired_object->elements, desired_object->length);
  int32_t enctypes[MAX_ENCTYPES];
  if (desired_object->length == allowable_enctypes_oid.length &&
      memcmp(desired_object->elements, allowable_enctypes_oid.elements,
             allowable_enctypes_oid.length) == 0) {
    const struct allowable_enctypes_req* req =
        value != GSS_C_NO_BUFFER && value->length == sizeof(*req) ? value->value : NULL;
    if (req == NULL) {
      *minor = GG_MINOR_UNSUPPORTED;
      gg_set_error(*minor, "gssgate: the allowable-enctypes option's value is not MIT's request");
      return GSS_S_FAILURE;
    }
    if (req->ktypes != NULL && req->num_ktypes > MAX_ENCTYPES) {
      *minor = GG_MINOR_UNSUPPORTED;
      gg_set_error(*minor, "gssgate: %u allowable enctypes given, at most %d",
                   (unsigned)req->num_ktypes, MAX_ENCTYPES);
      return GSS_S_FAILURE;
    }
    if (req->ktypes == NULL) {
      request.reset = 1; /* MIT's NULL list, whatever the count: krb5.conf's enctypes again */
    } else {
      for (OM_uint32 i = 0; i < req->num_ktypes; ++i) enctypes[i] = req->ktypes[i];
      request.n_enctypes = req->num_ktypes;
      request.enctypes = enctypes;
    }
  }
  ProtobufCMessage* reply;
  OM_uint32 major = gg_call(minor, "SetCredOption", &request.base, &reply, GSS_S_NO_CRED);
  if (major != GSS_S_COMPLETE) return major;
  major = gg_reply_status(minor, ((Gssgate__V1__SetCredOptionReply*)reply)->status);
  protobuf_c_message_free_unpacked(reply, NULL);
  return major;
}
