/* The gssgate interposer: security contexts, each a handle in gssgated (credentials are in
 * creds.c). Deleting a context costs no round trip of its own: its release rides on the
 * connection's next call. */
#define _GNU_SOURCE

#include <gssapi/gssapi_krb5.h>
#include <stdlib.h>
#include <string.h>

#include "interposer.h"

static void set_bindings(gss_channel_bindings_t in, Gssgate__V1__ChannelBindings* out) {
  gssgate__v1__channel_bindings__init(out);
  out->initiator_address_type = in->initiator_addrtype;
  out->initiator_address = gg_bin(in->initiator_address.value, in->initiator_address.length);
  out->acceptor_address_type = in->acceptor_addrtype;
  out->acceptor_address = gg_bin(in->acceptor_address.value, in->acceptor_address.length);
  out->application_data = gg_bin(in->application_data.value, in->application_data.length);
}

/* ---- security contexts ----------------------------------------------------------------------- */

static void ctx_free(gg_ctx* ctx) {
  if (ctx == NULL) return;
  OM_uint32 ignored;
  if (ctx->local != GSS_C_NO_CONTEXT) gss_delete_sec_context(&ignored, &ctx->local, GSS_C_NO_BUFFER);
  gg_release_handle(&ctx->handle, 0);
  gg_name_free(ctx->source);
  gg_name_free(ctx->target);
  free(ctx);
}

static void ctx_set_lifetime(gg_ctx* ctx, OM_uint32 lifetime) {
  /* Only GSS_C_INDEFINITE is indefinite; 0 is a context that has expired. */
  ctx->indefinite = lifetime == GSS_C_INDEFINITE;
  ctx->expires = ctx->indefinite ? 0 : gg_now() + lifetime;
}

/* The context of a step: the application's (checked against the connection) or a new one. */
static OM_uint32 step_context(OM_uint32* minor, gss_ctx_id_t* context_handle, gg_ctx** out,
                              int* created) {
  *created = 0;
  *out = (gg_ctx*)*context_handle;
  if (*out != NULL && (*out)->local != GSS_C_NO_CONTEXT) return GSS_S_COMPLETE;
  if (*out != NULL) {
    return gg_handle_current(minor, &(*out)->handle, "security context") ? GSS_S_COMPLETE
                                                                         : GSS_S_NO_CONTEXT;
  }
  *out = calloc(1, sizeof(**out));
  if (*out == NULL) return gg_nomem(minor);
  *created = 1;
  return GSS_S_COMPLETE;
}

/* After a step's reply: keep the handle, or drop a context that failed. On a failed first step
 * MIT frees only its own wrapper and never calls gssi_delete_sec_context, so the context is freed
 * here, and released in the daemon if it still has it there (a failure of ours, such as memory,
 * after the daemon's step succeeded). A failed later step keeps the context for the
 * application's gss_delete_sec_context. Returns the step's major status. */
static OM_uint32 finish_step(gg_ctx* ctx, int created, OM_uint32 major,
                             const ProtobufCBinaryData* handle, gss_ctx_id_t* context_handle,
                             OM_uint32* minor) {
  if (!GSS_ERROR(major) && handle->len == 0 && ctx->handle.len == 0) {
    *minor = GG_MINOR_DAEMON;
    gg_set_error(*minor, "gssgate: gssgated's reply carries no context handle");
    major = GSS_S_FAILURE;
  }
  if (!GSS_ERROR(major) && handle->len > 0 &&
      (ctx->handle.len != handle->len ||
       memcmp(ctx->handle.data, handle->data, handle->len) != 0)) {
    if (!gg_handle_set(&ctx->handle, handle)) major = gg_nomem(minor);
  }
  if (GSS_ERROR(major)) {
    if (created) {
      if (ctx->handle.len == 0) gg_release_returned(handle, 0);
      ctx_free(ctx);
      *context_handle = GSS_C_NO_CONTEXT;
    }
    return major;
  }
  *context_handle = (gss_ctx_id_t)ctx;
  return major;
}

/* After a step of a local context (GSSGATE_INTERPOSE=fallback): as finish_step, for MIT's own
 * context. */
static OM_uint32 finish_local_step(gg_ctx* ctx, int created, OM_uint32 major,
                                   gss_ctx_id_t* context_handle) {
  if (GSS_ERROR(major) && created) {
    ctx_free(ctx);
    *context_handle = GSS_C_NO_CONTEXT;
    return major;
  }
  ctx->open = major == GSS_S_COMPLETE;
  *context_handle = (gss_ctx_id_t)ctx;
  return major;
}

/* Whether a step runs on MIT's own krb5: a local context, or a new one with a local credential. */
static int local_step(const gg_ctx* ctx, int created, const gg_cred* cred) {
  return ctx->local != GSS_C_NO_CONTEXT ||
         (created && cred != NULL && cred->local != GSS_C_NO_CREDENTIAL);
}

GG_EXPORT OM_uint32 gssi_init_sec_context(OM_uint32* minor, gss_cred_id_t claimant,
                                          gss_ctx_id_t* context_handle, gss_name_t target,
                                          gss_OID mech_type, OM_uint32 req_flags,
                                          OM_uint32 time_req, gss_channel_bindings_t bindings,
                                          gss_buffer_t input_token, gss_OID* actual_mech,
                                          gss_buffer_t output_token, OM_uint32* ret_flags,
                                          OM_uint32* time_rec) {
  if (output_token != GSS_C_NO_BUFFER) {
    output_token->length = 0;
    output_token->value = NULL;
  }
  gg_ctx* ctx;
  int created;
  OM_uint32 major = step_context(minor, context_handle, &ctx, &created);
  if (major != GSS_S_COMPLETE) return major;
  const gg_cred* cred = (const gg_cred*)claimant;
  if (local_step(ctx, created, cred)) {
    major = gg_local_init(minor, ctx, cred != NULL ? cred->local : GSS_C_NO_CREDENTIAL,
                          (const gg_name*)target, mech_type, req_flags, time_req, bindings,
                          input_token, actual_mech, output_token, ret_flags, time_rec);
    return finish_local_step(ctx, created, major, context_handle);
  }
  if (cred != NULL && !gg_handle_current(minor, &cred->handle, "credential")) {
    if (created) free(ctx);
    return GSS_S_NO_CRED;
  }

  Gssgate__V1__InitSecContextRequest request = GSSGATE__V1__INIT_SEC_CONTEXT_REQUEST__INIT;
  if (!created) request.context = gg_bin(ctx->handle.data, ctx->handle.len);
  if (cred != NULL) request.creds = gg_bin(cred->handle.data, cred->handle.len);
  Gssgate__V1__Name name;
  if (target != GSS_C_NO_NAME) {
    gg_name_to_proto((const gg_name*)target, &name);
    request.target = &name;
  }
  if (mech_type != GSS_C_NO_OID) request.mech = gg_bin(mech_type->elements, mech_type->length);
  gssgate_wire_set_init_flags(&request.base, req_flags);
  request.lifetime = time_req == GSS_C_INDEFINITE ? 0 : time_req;
  Gssgate__V1__ChannelBindings cb;
  if (bindings != GSS_C_NO_CHANNEL_BINDINGS) {
    set_bindings(bindings, &cb);
    request.channel_bindings = &cb;
  }
  if (input_token != GSS_C_NO_BUFFER) {
    request.input_token = gg_bin(input_token->value, input_token->length);
  }
  ProtobufCMessage* reply;
  major = gg_call(minor, "InitSecContext", &request.base, &reply, GSS_S_NO_CONTEXT);
  if (created && cred == NULL && gg_falls_back(major, *minor)) {
    major = gg_local_init(minor, ctx, GSS_C_NO_CREDENTIAL, (const gg_name*)target, mech_type,
                          req_flags, time_req, bindings, input_token, actual_mech, output_token,
                          ret_flags, time_rec);
    return finish_local_step(ctx, created, major, context_handle);
  }
  if (major != GSS_S_COMPLETE) {
    if (created) free(ctx);
    return major;
  }
  Gssgate__V1__InitSecContextReply* step = (Gssgate__V1__InitSecContextReply*)reply;
  major = gg_reply_status(minor, step->status);
  if (output_token != GSS_C_NO_BUFFER &&
      !gg_buffer_set(output_token, step->output_token.data, step->output_token.len)) {
    major = gg_nomem(minor);
  }
  if (!GSS_ERROR(major)) {
    ctx->initiator = 1;
    ctx->flags = step->flags;
    ctx->mech = gg_static_mech(&step->mech);
    ctx->open = !step->continue_needed;
    ctx_set_lifetime(ctx, step->lifetime);
    if (ctx->open) {
      gg_name_free(ctx->source);
      gg_name_free(ctx->target);
      ctx->source = gg_name_from_proto(step->initiator_name);
      ctx->target = gg_name_from_proto(step->target_name);
    }
    if (actual_mech != NULL) *actual_mech = ctx->mech != GSS_C_NO_OID ? ctx->mech : gss_mech_krb5;
    if (ret_flags != NULL) *ret_flags = step->flags;
    gg_set_lifetime(time_rec, step->lifetime);
  }
  major = finish_step(ctx, created, major, &step->context, context_handle, minor);
  protobuf_c_message_free_unpacked(reply, NULL);
  return major;
}

GG_EXPORT OM_uint32 gssi_accept_sec_context(OM_uint32* minor, gss_ctx_id_t* context_handle,
                                            gss_cred_id_t acceptor_cred, gss_buffer_t input_token,
                                            gss_channel_bindings_t bindings, gss_name_t* src_name,
                                            gss_OID* mech_type, gss_buffer_t output_token,
                                            OM_uint32* ret_flags, OM_uint32* time_rec,
                                            gss_cred_id_t* delegated_cred) {
  if (output_token != GSS_C_NO_BUFFER) {
    output_token->length = 0;
    output_token->value = NULL;
  }
  if (src_name != NULL) *src_name = GSS_C_NO_NAME;
  if (delegated_cred != NULL) *delegated_cred = GSS_C_NO_CREDENTIAL;
  gg_ctx* ctx;
  int created;
  OM_uint32 major = step_context(minor, context_handle, &ctx, &created);
  if (major != GSS_S_COMPLETE) return major;
  const gg_cred* cred = (const gg_cred*)acceptor_cred;
  if (local_step(ctx, created, cred)) {
    major = gg_local_accept(minor, ctx, cred != NULL ? cred->local : GSS_C_NO_CREDENTIAL,
                            input_token, bindings, src_name, mech_type, output_token, ret_flags,
                            time_rec, delegated_cred);
    return finish_local_step(ctx, created, major, context_handle);
  }
  if (cred != NULL && !gg_handle_current(minor, &cred->handle, "credential")) {
    if (created) free(ctx);
    return GSS_S_NO_CRED;
  }

  Gssgate__V1__AcceptSecContextRequest request = GSSGATE__V1__ACCEPT_SEC_CONTEXT_REQUEST__INIT;
  if (!created) request.context = gg_bin(ctx->handle.data, ctx->handle.len);
  if (cred != NULL) request.creds = gg_bin(cred->handle.data, cred->handle.len);
  if (input_token != GSS_C_NO_BUFFER) {
    request.input_token = gg_bin(input_token->value, input_token->length);
  }
  Gssgate__V1__ChannelBindings cb;
  if (bindings != GSS_C_NO_CHANNEL_BINDINGS) {
    set_bindings(bindings, &cb);
    request.channel_bindings = &cb;
  }
  ProtobufCMessage* reply;
  major = gg_call(minor, "AcceptSecContext", &request.base, &reply, GSS_S_NO_CONTEXT);
  if (created && cred == NULL && gg_falls_back(major, *minor)) {
    major = gg_local_accept(minor, ctx, GSS_C_NO_CREDENTIAL, input_token, bindings, src_name,
                            mech_type, output_token, ret_flags, time_rec, delegated_cred);
    return finish_local_step(ctx, created, major, context_handle);
  }
  if (major != GSS_S_COMPLETE) {
    if (created) free(ctx);
    return major;
  }
  Gssgate__V1__AcceptSecContextReply* step = (Gssgate__V1__AcceptSecContextReply*)reply;
  major = gg_reply_status(minor, step->status);
  if (output_token != GSS_C_NO_BUFFER &&
      !gg_buffer_set(output_token, step->output_token.data, step->output_token.len)) {
    major = gg_nomem(minor);
  }
  if (!GSS_ERROR(major)) {
    ctx->initiator = 0;
    ctx->flags = step->flags;
    ctx->mech = gg_static_mech(&step->mech);
    ctx->open = !step->continue_needed;
    ctx_set_lifetime(ctx, step->lifetime);
    if (step->initiator_name != NULL) {
      gg_name_free(ctx->source);
      ctx->source = gg_name_from_proto(step->initiator_name);
    }
    if (step->target_name != NULL) {
      gg_name_free(ctx->target);
      ctx->target = gg_name_from_proto(step->target_name);
    }
    /* The initiator and a delegated credential are outputs of the completing step only: MIT
     * drops them on CONTINUE_NEEDED, so they would leak if set earlier. */
    if (ctx->open && src_name != NULL && ctx->source != NULL) {
      *src_name = (gss_name_t)gg_name_copy(ctx->source);
      if (*src_name == GSS_C_NO_NAME) major = gg_nomem(minor);
    }
    if (mech_type != NULL) *mech_type = ctx->mech != GSS_C_NO_OID ? ctx->mech : gss_mech_krb5;
    if (ret_flags != NULL) *ret_flags = step->flags;
    gg_set_lifetime(time_rec, step->lifetime);
  }
  if (step->delegated_creds.len > 0) {
    gg_cred* delegated = NULL;
    if (!GSS_ERROR(major) && ctx->open && delegated_cred != NULL) {
      delegated = calloc(1, sizeof(*delegated));
      if (delegated != NULL && !gg_handle_set(&delegated->handle, &step->delegated_creds)) {
        free(delegated);
        delegated = NULL;
      }
    }
    if (delegated != NULL) {
      *delegated_cred = (gss_cred_id_t)delegated;
    } else {
      gg_release_returned(&step->delegated_creds, 1);
    }
  }
  if (GSS_ERROR(major) && src_name != NULL && *src_name != GSS_C_NO_NAME) {
    gg_name_free((gg_name*)*src_name);
    *src_name = GSS_C_NO_NAME;
  }
  major = finish_step(ctx, created, major, &step->context, context_handle, minor);
  protobuf_c_message_free_unpacked(reply, NULL);
  return major;
}

GG_EXPORT OM_uint32 gssi_delete_sec_context(OM_uint32* minor, gss_ctx_id_t* context_handle,
                                            gss_buffer_t output_token) {
  *minor = 0;
  if (output_token != GSS_C_NO_BUFFER) {
    output_token->length = 0;
    output_token->value = NULL;
  }
  ctx_free((gg_ctx*)*context_handle);
  *context_handle = GSS_C_NO_CONTEXT;
  return GSS_S_COMPLETE;
}

/* The context of a per-message call, or an error status. */
static const gg_ctx* message_context(OM_uint32* minor, gss_ctx_id_t context_handle,
                                     OM_uint32* major) {
  const gg_ctx* ctx = (const gg_ctx*)context_handle;
  *major = GSS_S_COMPLETE;
  if (ctx == NULL) {
    *minor = 0;
    *major = GSS_S_NO_CONTEXT;
  } else if (ctx->local == GSS_C_NO_CONTEXT && !gg_handle_current(minor, &ctx->handle, "security context")) {
    *major = GSS_S_NO_CONTEXT;
  }
  return *major == GSS_S_COMPLETE ? ctx : NULL;
}

GG_EXPORT OM_uint32 gssi_context_time(OM_uint32* minor, gss_ctx_id_t context_handle,
                                      OM_uint32* time_rec) {
  OM_uint32 major;
  const gg_ctx* ctx = message_context(minor, context_handle, &major);
  if (ctx == NULL) return major;
  if (ctx->local != GSS_C_NO_CONTEXT) {
    return gg_local_status(minor, gss_context_time(minor, ctx->local, time_rec));
  }
  *minor = 0;
  if (ctx->indefinite) {
    *time_rec = GSS_C_INDEFINITE;
    return GSS_S_COMPLETE;
  }
  /* Counted down here, as libgssgate does: the daemon gave the lifetime with the last step. */
  const int64_t left = ctx->expires - gg_now();
  *time_rec = left > 0 ? (OM_uint32)left : 0;
  return left > 0 ? GSS_S_COMPLETE : GSS_S_CONTEXT_EXPIRED;
}

GG_EXPORT OM_uint32 gssi_inquire_context(OM_uint32* minor, gss_ctx_id_t context_handle,
                                         gss_name_t* src_name, gss_name_t* targ_name,
                                         OM_uint32* lifetime, gss_OID* mech_type,
                                         OM_uint32* ctx_flags, int* locally_initiated, int* open) {
  OM_uint32 major;
  const gg_ctx* ctx = message_context(minor, context_handle, &major);
  if (ctx == NULL) return major;
  if (ctx->local != GSS_C_NO_CONTEXT) {
    return gg_local_inquire_context(minor, ctx, src_name, targ_name, lifetime, mech_type,
                                    ctx_flags, locally_initiated, open);
  }
  *minor = 0;
  if (src_name != NULL) {
    *src_name = ctx->source != NULL ? (gss_name_t)gg_name_copy(ctx->source) : GSS_C_NO_NAME;
  }
  if (targ_name != NULL) {
    *targ_name = ctx->target != NULL ? (gss_name_t)gg_name_copy(ctx->target) : GSS_C_NO_NAME;
  }
  if (lifetime != NULL) (void)gssi_context_time(minor, context_handle, lifetime);
  if (mech_type != NULL) *mech_type = ctx->mech != GSS_C_NO_OID ? ctx->mech : gss_mech_krb5;
  if (ctx_flags != NULL) *ctx_flags = ctx->flags;
  if (locally_initiated != NULL) *locally_initiated = ctx->initiator;
  if (open != NULL) *open = ctx->open;
  *minor = 0;
  return GSS_S_COMPLETE;
}

GG_EXPORT OM_uint32 gssi_wrap(OM_uint32* minor, gss_ctx_id_t context_handle, int conf_req,
                              gss_qop_t qop, gss_buffer_t input, int* conf_state,
                              gss_buffer_t output) {
  OM_uint32 major;
  const gg_ctx* ctx = message_context(minor, context_handle, &major);
  if (ctx == NULL) return major;
  if (ctx->local != GSS_C_NO_CONTEXT) {
    return gg_local_status(minor,
                           gss_wrap(minor, ctx->local, conf_req, qop, input, conf_state, output));
  }
  Gssgate__V1__WrapRequest request = GSSGATE__V1__WRAP_REQUEST__INIT;
  request.context = gg_bin(ctx->handle.data, ctx->handle.len);
  request.message = gg_bin(input->value, input->length);
  request.encrypt = conf_req != 0;
  request.qop = qop;
  ProtobufCMessage* reply;
  major = gg_call(minor, "Wrap", &request.base, &reply, GSS_S_NO_CONTEXT);
  if (major != GSS_S_COMPLETE) return major;
  Gssgate__V1__WrapReply* wrapped = (Gssgate__V1__WrapReply*)reply;
  major = gg_reply_status(minor, wrapped->status);
  if (!GSS_ERROR(major)) {
    if (!gg_buffer_set(output, wrapped->token.data, wrapped->token.len)) major = gg_nomem(minor);
    if (conf_state != NULL) *conf_state = wrapped->encrypted;
  }
  protobuf_c_message_free_unpacked(reply, NULL);
  return major;
}

GG_EXPORT OM_uint32 gssi_unwrap(OM_uint32* minor, gss_ctx_id_t context_handle, gss_buffer_t input,
                                gss_buffer_t output, int* conf_state, gss_qop_t* qop_state) {
  OM_uint32 major;
  const gg_ctx* ctx = message_context(minor, context_handle, &major);
  if (ctx == NULL) return major;
  if (ctx->local != GSS_C_NO_CONTEXT) {
    return gg_local_status(minor,
                           gss_unwrap(minor, ctx->local, input, output, conf_state, qop_state));
  }
  Gssgate__V1__UnwrapRequest request = GSSGATE__V1__UNWRAP_REQUEST__INIT;
  request.context = gg_bin(ctx->handle.data, ctx->handle.len);
  request.token = gg_bin(input->value, input->length);
  ProtobufCMessage* reply;
  major = gg_call(minor, "Unwrap", &request.base, &reply, GSS_S_NO_CONTEXT);
  if (major != GSS_S_COMPLETE) return major;
  Gssgate__V1__UnwrapReply* unwrapped = (Gssgate__V1__UnwrapReply*)reply;
  major = gg_reply_status(minor, unwrapped->status);
  if (!GSS_ERROR(major)) {
    if (!gg_buffer_set(output, unwrapped->message.data, unwrapped->message.len)) {
      major = gg_nomem(minor);
    }
    if (conf_state != NULL) *conf_state = unwrapped->encrypted;
    if (qop_state != NULL) *qop_state = unwrapped->qop;
  }
  protobuf_c_message_free_unpacked(reply, NULL);
  return major;
}

GG_EXPORT OM_uint32 gssi_get_mic(OM_uint32* minor, gss_ctx_id_t context_handle, gss_qop_t qop,
                                 gss_buffer_t message, gss_buffer_t token) {
  OM_uint32 major;
  const gg_ctx* ctx = message_context(minor, context_handle, &major);
  if (ctx == NULL) return major;
  if (ctx->local != GSS_C_NO_CONTEXT) {
    return gg_local_status(minor, gss_get_mic(minor, ctx->local, qop, message, token));
  }
  Gssgate__V1__GetMicRequest request = GSSGATE__V1__GET_MIC_REQUEST__INIT;
  request.context = gg_bin(ctx->handle.data, ctx->handle.len);
  request.message = gg_bin(message->value, message->length);
  request.qop = qop;
  ProtobufCMessage* reply;
  major = gg_call(minor, "GetMic", &request.base, &reply, GSS_S_NO_CONTEXT);
  if (major != GSS_S_COMPLETE) return major;
  Gssgate__V1__GetMicReply* mic = (Gssgate__V1__GetMicReply*)reply;
  major = gg_reply_status(minor, mic->status);
  if (!GSS_ERROR(major) && !gg_buffer_set(token, mic->mic.data, mic->mic.len)) {
    major = gg_nomem(minor);
  }
  protobuf_c_message_free_unpacked(reply, NULL);
  return major;
}

GG_EXPORT OM_uint32 gssi_verify_mic(OM_uint32* minor, gss_ctx_id_t context_handle,
                                    gss_buffer_t message, gss_buffer_t token,
                                    gss_qop_t* qop_state) {
  OM_uint32 major;
  const gg_ctx* ctx = message_context(minor, context_handle, &major);
  if (ctx == NULL) return major;
  if (ctx->local != GSS_C_NO_CONTEXT) {
    return gg_local_status(minor, gss_verify_mic(minor, ctx->local, message, token, qop_state));
  }
  Gssgate__V1__VerifyMicRequest request = GSSGATE__V1__VERIFY_MIC_REQUEST__INIT;
  request.context = gg_bin(ctx->handle.data, ctx->handle.len);
  request.message = gg_bin(message->value, message->length);
  request.mic = gg_bin(token->value, token->length);
  ProtobufCMessage* reply;
  major = gg_call(minor, "VerifyMic", &request.base, &reply, GSS_S_NO_CONTEXT);
  if (major != GSS_S_COMPLETE) return major;
  Gssgate__V1__VerifyMicReply* verified = (Gssgate__V1__VerifyMicReply*)reply;
  major = gg_reply_status(minor, verified->status);
  if (!GSS_ERROR(major) && qop_state != NULL) *qop_state = verified->qop;
  protobuf_c_message_free_unpacked(reply, NULL);
  return major;
}

GG_EXPORT OM_uint32 gssi_wrap_size_limit(OM_uint32* minor, gss_ctx_id_t context_handle,
                                         int conf_req, gss_qop_t qop, OM_uint32 req_output_size,
                                         OM_uint32* max_input_size) {
  OM_uint32 major;
  const gg_ctx* ctx = message_context(minor, context_handle, &major);
  if (ctx == NULL) return major;
  if (ctx->local != GSS_C_NO_CONTEXT) {
    return gg_local_status(minor, gss_wrap_size_limit(minor, ctx->local, conf_req, qop,
                                                      req_output_size, max_input_size));
  }
  Gssgate__V1__WrapSizeLimitRequest request = GSSGATE__V1__WRAP_SIZE_LIMIT_REQUEST__INIT;
  request.context = gg_bin(ctx->handle.data, ctx->handle.len);
  request.encrypt = conf_req != 0;
  request.qop = qop;
  request.max_output_size = req_output_size;
  ProtobufCMessage* reply;
  major = gg_call(minor, "WrapSizeLimit", &request.base, &reply, GSS_S_NO_CONTEXT);
  if (major != GSS_S_COMPLETE) return major;
  Gssgate__V1__WrapSizeLimitReply* limit = (Gssgate__V1__WrapSizeLimitReply*)reply;
  major = gg_reply_status(minor, limit->status);
  if (!GSS_ERROR(major)) *max_input_size = limit->max_input_size;
  protobuf_c_message_free_unpacked(reply, NULL);
  return major;
}

GG_EXPORT OM_uint32 gssi_process_context_token(OM_uint32* minor, gss_ctx_id_t context_handle,
                                               gss_buffer_t token) {
  OM_uint32 major;
  const gg_ctx* ctx = message_context(minor, context_handle, &major);
  if (ctx == NULL) return major;
  if (ctx->local != GSS_C_NO_CONTEXT) {
    return gg_local_status(minor, gss_process_context_token(minor, ctx->local, token));
  }
  Gssgate__V1__ProcessContextTokenRequest request =
      GSSGATE__V1__PROCESS_CONTEXT_TOKEN_REQUEST__INIT;
  request.context = gg_bin(ctx->handle.data, ctx->handle.len);
  request.token = gg_bin(token->value, token->length);
  ProtobufCMessage* reply;
  major = gg_call(minor, "ProcessContextToken", &request.base, &reply, GSS_S_NO_CONTEXT);
  if (major != GSS_S_COMPLETE) return major;
  major = gg_reply_status(minor, ((Gssgate__V1__ProcessContextTokenReply*)reply)->status);
  protobuf_c_message_free_unpacked(reply, NULL);
  return major;
}

/* MIT's krb5 extensions that read a context (gss_krb5_get_tkt_flags,
 * gsskrb5_extract_authtime_from_sec_context, gsskrb5_extract_authz_data_from_sec_context) and the
 * session-key inquiry come here. gssgated answers those and refuses the rest,
 * lucid contexts among them (gssgate.proto, InquireSecContextByOid). */
GG_EXPORT OM_uint32 gssi_inquire_sec_context_by_oid(OM_uint32* minor,
                                                    const gss_ctx_id_t context_handle,
                                                    const gss_OID desired_object,
                                                    gss_buffer_set_t* data_set) {
  *data_set = GSS_C_NO_BUFFER_SET;
  OM_uint32 major;
  const gg_ctx* ctx = message_context(minor, context_handle, &major);
  if (ctx == NULL) return major;
  if (ctx->local != GSS_C_NO_CONTEXT) {
    return gg_local_status(
        minor, gss_inquire_sec_context_by_oid(minor, ctx->local, desired_object, data_set));
  }
  if (desired_object == GSS_C_NO_OID) {
    *minor = 0;
    return GSS_S_CALL_INACCESSIBLE_READ;
  }
  Gssgate__V1__InquireSecContextByOidRequest request =
      GSSGATE__V1__INQUIRE_SEC_CONTEXT_BY_OID_REQUEST__INIT;
  request.context = gg_bin(ctx->handle.data, ctx->handle.len);
  request.oid = gg_bin(desired_object->elements, desired_object->length);
  ProtobufCMessage* reply;
  major = gg_call(minor, "InquireSecContextByOid", &request.base, &reply, GSS_S_NO_CONTEXT);
  if (major != GSS_S_COMPLETE) return major;
  Gssgate__V1__InquireSecContextByOidReply* got = (Gssgate__V1__InquireSecContextByOidReply*)reply;
  major = gg_reply_status(minor, got->status);
  if (!GSS_ERROR(major)) major = gg_buffer_set_of(minor, got->values, got->n_values, data_set);
  /* A session key may be among them: the module's decoded copy goes (the program's own copy in
   * *data_set is the program's to clear). */
  for (size_t i = 0; i < got->n_values; ++i) {
    if (got->values[i].data != NULL) explicit_bzero(got->values[i].data, got->values[i].len);
  }
  protobuf_c_message_free_unpacked(reply, NULL);
  return major;
}

/* A mechglue's exported context token is a 4-byte big-endian OID length, the mechanism's OID,
 * then the mechanism's own token. MIT frames what gssi_export_sec_context returns the same way
 * (with our concatenated OID), so only krb5's part is ours to return. */
static OM_uint32 krb5_part(OM_uint32* minor, const void* framed, size_t len, gss_buffer_t out,
                           const char* what) {
  const uint8_t* bytes = framed;
  const size_t oid_len = len >= 4 ? ((size_t)bytes[0] << 24) | ((size_t)bytes[1] << 16) |
                                        ((size_t)bytes[2] << 8) | bytes[3]
                                  : 0;
  ProtobufCBinaryData oid = gg_bin(len >= 4 ? (void*)(bytes + 4) : NULL, oid_len);
  if (len < 4 || oid_len == 0 || oid_len > len - 4 || gg_static_mech(&oid) == GSS_C_NO_OID) {
    *minor = GG_MINOR_DAEMON;
    gg_set_error(*minor, "gssgate: %s is not a krb5 context token", what);
    return GSS_S_FAILURE;
  }
  if (!gg_buffer_set(out, bytes + 4 + oid_len, len - 4 - oid_len)) return gg_nomem(minor);
  return GSS_S_COMPLETE;
}

/* gss_export_sec_context: the daemon's ExportContext gives MIT's own krb5 export token (the
 * session key with it), and only where the caller's rule grants export_context; the daemon's
 * handle is then gone. MIT labels the token with this module's OID followed by krb5's and, on
 * gss_import_sec_context, imports it with the local krb5 mechanism: the context then lives in the
 * importing process. Denied by policy, the context stays in gssgated, untouched. */
GG_EXPORT OM_uint32 gssi_export_sec_context(OM_uint32* minor, gss_ctx_id_t* context_handle,
                                            gss_buffer_t token) {
  token->length = 0;
  token->value = NULL;
  OM_uint32 major;
  gg_ctx* ctx = (gg_ctx*)message_context(minor, *context_handle, &major);
  if (ctx == NULL) return major;
  if (!ctx->open) {
    *minor = GG_MINOR_UNSUPPORTED;
    gg_set_error(*minor,
                 "gssgate: only an established context can be exported; finish the "
                 "handshake first");
    return GSS_S_NO_CONTEXT;
  }
  if (ctx->local != GSS_C_NO_CONTEXT) {
    gss_buffer_desc framed = GSS_C_EMPTY_BUFFER;
    major = gg_local_status(minor, gss_export_sec_context(minor, &ctx->local, &framed));
    if (!GSS_ERROR(major)) {
      major = krb5_part(minor, framed.value, framed.length, token, "the local exported context");
      OM_uint32 ignored;
      gss_release_buffer(&ignored, &framed);
      ctx_free(ctx); /* MIT's context is gone with the export */
      *context_handle = GSS_C_NO_CONTEXT;
    }
    return major;
  }
  Gssgate__V1__ExportContextRequest request = GSSGATE__V1__EXPORT_CONTEXT_REQUEST__INIT;
  request.context = gg_bin(ctx->handle.data, ctx->handle.len);
  ProtobufCMessage* reply;
  major = gg_call(minor, "ExportContext", &request.base, &reply, GSS_S_NO_CONTEXT);
  if (major != GSS_S_COMPLETE) return major;
  Gssgate__V1__ExportContextReply* exported = (Gssgate__V1__ExportContextReply*)reply;
  major = gg_reply_status(minor, exported->status);
  if (!GSS_ERROR(major)) {
    major = krb5_part(minor, exported->token.data, exported->token.len, token,
                      "gssgated's exported context");
    /* The daemon no longer has the handle: nothing to release. */
    gg_handle_free(&ctx->handle);
    ctx_free(ctx);
    *context_handle = GSS_C_NO_CONTEXT;
  }
  protobuf_c_message_free_unpacked(reply, NULL);
  return major;
}

/* ---- IOV: gss_wrap_iov and its family (and AEAD, which MIT's mechglue builds on them) ------- */

/* A part the mechanism makes (and the caller receives) in a wrap or get_mic. */
static int made_by_mechanism(Gssgate__V1__IovOp op, OM_uint32 type) {
  if (op == GSSGATE__V1__IOV_OP__IOV_OP_WRAP) {
    return type == GSS_IOV_BUFFER_TYPE_HEADER || type == GSS_IOV_BUFFER_TYPE_TRAILER ||
           type == GSS_IOV_BUFFER_TYPE_PADDING;
  }
  return op == GSSGATE__V1__IOV_OP__IOV_OP_GET_MIC && type == GSS_IOV_BUFFER_TYPE_MIC_TOKEN;
}

static int lengths_only(Gssgate__V1__IovOp op) {
  return op == GSSGATE__V1__IOV_OP__IOV_OP_WRAP_LENGTH ||
         op == GSSGATE__V1__IOV_OP__IOV_OP_GET_MIC_LENGTH;
}

static OM_uint32 iov_local(OM_uint32* minor, gss_ctx_id_t local, Gssgate__V1__IovOp op,
                           int conf_req, gss_qop_t qop_req, int* conf_state, gss_qop_t* qop_state,
                           gss_iov_buffer_desc* iov, int count) {
  switch (op) {
    case GSSGATE__V1__IOV_OP__IOV_OP_WRAP:
      return gss_wrap_iov(minor, local, conf_req, qop_req, conf_state, iov, count);
    case GSSGATE__V1__IOV_OP__IOV_OP_UNWRAP:
      return gss_unwrap_iov(minor, local, conf_state, qop_state, iov, count);
    case GSSGATE__V1__IOV_OP__IOV_OP_WRAP_LENGTH:
      return gss_wrap_iov_length(minor, local, conf_req, qop_req, conf_state, iov, count);
    case GSSGATE__V1__IOV_OP__IOV_OP_GET_MIC:
      return gss_get_mic_iov(minor, local, qop_req, iov, count);
    case GSSGATE__V1__IOV_OP__IOV_OP_VERIFY_MIC:
      return gss_verify_mic_iov(minor, local, qop_state, iov, count);
    default:
      return gss_get_mic_iov_length(minor, local, qop_req, iov, count);
  }
}

/* Where one part of the daemon's reply goes: a buffer the module allocates (the caller asked with
 * GSS_IOV_BUFFER_FLAG_ALLOCATE, and frees it with gss_release_iov_buffer), the caller's own
 * buffer, or, for the message of a stream unwrapped into an empty DATA buffer, the caller's
 * stream buffer, which the data then points into (as MIT's own krb5 leaves it); PLACE_NO_ROOM:
 * the caller's buffer is too small. */
enum placement { PLACE_ALLOCATE, PLACE_IN_BUFFER, PLACE_IN_STREAM, PLACE_NO_ROOM };

static enum placement placement_of(const gss_iov_buffer_desc* iov, int count, int i,
                                   size_t len, int* stream) {
  const gss_iov_buffer_desc* to = &iov[i];
  if (to->type & GSS_IOV_BUFFER_FLAG_ALLOCATE) return PLACE_ALLOCATE;
  if (to->buffer.length == 0 && len > 0) {
    for (int s = 0; s < count; ++s) {
      if (GSS_IOV_BUFFER_TYPE(iov[s].type) == GSS_IOV_BUFFER_TYPE_STREAM &&
          iov[s].buffer.length >= len) {
        *stream = s;
        return PLACE_IN_STREAM;
      }
    }
  }
  return to->buffer.length >= len ? PLACE_IN_BUFFER : PLACE_NO_ROOM;
}

/* Only called once every part has a place (iov_call checks them all first, so a part that does
 * not fit never leaves the caller with some buffers written and others not). */
static OM_uint32 place_part(OM_uint32* minor, gss_iov_buffer_desc* iov, int count, int i,
                            const ProtobufCBinaryData* part) {
  gss_iov_buffer_desc* to = &iov[i];
  int stream = -1;
  switch (placement_of(iov, count, i, part->len, &stream)) {
    case PLACE_ALLOCATE:
      if (!gg_buffer_set(&to->buffer, part->data, part->len)) return gg_nomem(minor);
      to->type |= GSS_IOV_BUFFER_FLAG_ALLOCATED;
      return GSS_S_COMPLETE;
    case PLACE_IN_STREAM:
      memcpy(iov[stream].buffer.value, part->data, part->len);
      to->buffer.value = iov[stream].buffer.value;
      to->buffer.length = part->len;
      return GSS_S_COMPLETE;
    default:
      if (part->len > 0) memcpy(to->buffer.value, part->data, part->len);
      to->buffer.length = part->len;
      return GSS_S_COMPLETE;
  }
}

/* Whether the part at `i` is one the reply fills in for the caller. */
static int returned_part(Gssgate__V1__IovOp op, OM_uint32 type) {
  return made_by_mechanism(op, type) ||
         (type == GSS_IOV_BUFFER_TYPE_DATA && (op == GSSGATE__V1__IOV_OP__IOV_OP_WRAP ||
                                                op == GSSGATE__V1__IOV_OP__IOV_OP_UNWRAP));
}

static OM_uint32 iov_call(OM_uint32* minor, gss_ctx_id_t context_handle, Gssgate__V1__IovOp op,
                          int conf_req, gss_qop_t qop_req, int* conf_state, gss_qop_t* qop_state,
                          gss_iov_buffer_desc* iov, int count) {
  OM_uint32 major;
  const gg_ctx* ctx = message_context(minor, context_handle, &major);
  if (ctx == NULL) return major;
  if (ctx->local != GSS_C_NO_CONTEXT) {
    return gg_local_status(minor, iov_local(minor, ctx->local, op, conf_req, qop_req, conf_state,
                                            qop_state, iov, count));
  }
  if (iov == NULL || count < 1 || count > 64) {
    *minor = 0;
    return GSS_S_CALL_INACCESSIBLE_READ;
  }
  Gssgate__V1__IovBuffer* parts = calloc((size_t)count, sizeof(*parts));
  Gssgate__V1__IovBuffer** part_ptrs = calloc((size_t)count, sizeof(*part_ptrs));
  if (parts == NULL || part_ptrs == NULL) {
    free(parts);
    free(part_ptrs);
    return gg_nomem(minor);
  }
  for (int i = 0; i < count; ++i) {
    gssgate__v1__iov_buffer__init(&parts[i]);
    parts[i].type = GSS_IOV_BUFFER_TYPE(iov[i].type);
    if (lengths_only(op)) {
      parts[i].length = (uint32_t)iov[i].buffer.length; /* the sizes the lengths depend on */
    } else if (!made_by_mechanism(op, parts[i].type)) {
      parts[i].data = gg_bin(iov[i].buffer.value, iov[i].buffer.length);
    }
    part_ptrs[i] = &parts[i];
  }
  Gssgate__V1__IovRequest request = GSSGATE__V1__IOV_REQUEST__INIT;
  request.op = op;
  request.context = gg_bin(ctx->handle.data, ctx->handle.len);
  request.encrypt = conf_req != 0;
  request.qop = qop_req;
  request.n_buffers = (size_t)count;
  request.buffers = part_ptrs;
  ProtobufCMessage* reply;
  major = gg_call(minor, "Iov", &request.base, &reply, GSS_S_NO_CONTEXT);
  free(parts);
  free(part_ptrs);
  if (major != GSS_S_COMPLETE) return major;
  const Gssgate__V1__IovReply* done = (const Gssgate__V1__IovReply*)reply;
  major = gg_reply_status(minor, done->status);
  if (!GSS_ERROR(major) && done->n_buffers != (size_t)count) {
    *minor = GG_MINOR_DAEMON;
    gg_set_error(*minor, "gssgate: gssgated's IOV reply has %zu parts for %d", done->n_buffers,
                 count);
    major = GSS_S_FAILURE;
  }
  for (int i = 0; i < count && !GSS_ERROR(major) && !lengths_only(op); ++i) {
    int stream = -1;
    const size_t len = done->buffers[i]->data.len;
    if (returned_part(op, GSS_IOV_BUFFER_TYPE(iov[i].type)) &&
        placement_of(iov, count, i, len, &stream) == PLACE_NO_ROOM) {
      *minor = GG_MINOR_DAEMON;
      gg_set_error(*minor,
                   "gssgate: IOV buffer %d holds %zu bytes and its part needs %zu; pass a larger "
                   "buffer or GSS_IOV_BUFFER_FLAG_ALLOCATE",
                   i, (size_t)iov[i].buffer.length, len);
      major = GSS_S_FAILURE;
    }
  }
  for (int i = 0; i < count && !GSS_ERROR(major); ++i) {
    const OM_uint32 type = GSS_IOV_BUFFER_TYPE(iov[i].type);
    if (lengths_only(op)) {
      if (type == GSS_IOV_BUFFER_TYPE_HEADER || type == GSS_IOV_BUFFER_TYPE_TRAILER ||
          type == GSS_IOV_BUFFER_TYPE_PADDING || type == GSS_IOV_BUFFER_TYPE_MIC_TOKEN) {
        iov[i].buffer.length = done->buffers[i]->length;
      }
    } else if (returned_part(op, type)) {
      major = place_part(minor, iov, count, i, &done->buffers[i]->data);
    }
  }
  if (!GSS_ERROR(major)) {
    if (conf_state != NULL) *conf_state = done->encrypted;
    if (qop_state != NULL) *qop_state = done->qop;
  } else {
    OM_uint32 ignored;
    gss_release_iov_buffer(&ignored, iov, count); /* what this call allocated */
  }
  protobuf_c_message_free_unpacked(reply, NULL);
  return major;
}

GG_EXPORT OM_uint32 gssi_wrap_iov(OM_uint32* minor, gss_ctx_id_t context_handle, int conf_req,
                                  gss_qop_t qop, int* conf_state, gss_iov_buffer_desc* iov,
                                  int count) {
  return iov_call(minor, context_handle, GSSGATE__V1__IOV_OP__IOV_OP_WRAP, conf_req, qop,
                  conf_state, NULL, iov, count);
}

GG_EXPORT OM_uint32 gssi_unwrap_iov(OM_uint32* minor, gss_ctx_id_t context_handle, int* conf_state,
                                    gss_qop_t* qop_state, gss_iov_buffer_desc* iov, int count) {
  return iov_call(minor, context_handle, GSSGATE__V1__IOV_OP__IOV_OP_UNWRAP, 0, 0, conf_state,
                  qop_state, iov, count);
}

GG_EXPORT OM_uint32 gssi_wrap_iov_length(OM_uint32* minor, gss_ctx_id_t context_handle,
                                         int conf_req, gss_qop_t qop, int* conf_state,
                                         gss_iov_buffer_desc* iov, int count) {
  return iov_call(minor, context_handle, GSSGATE__V1__IOV_OP__IOV_OP_WRAP_LENGTH, conf_req, qop,
                  conf_state, NULL, iov, count);
}

GG_EXPORT OM_uint32 gssi_get_mic_iov(OM_uint32* minor, gss_ctx_id_t context_handle, gss_qop_t qop,
                                     gss_iov_buffer_desc* iov, int count) {
  return iov_call(minor, context_handle, GSSGATE__V1__IOV_OP__IOV_OP_GET_MIC, 0, qop, NULL, NULL,
                  iov, count);
}

GG_EXPORT OM_uint32 gssi_verify_mic_iov(OM_uint32* minor, gss_ctx_id_t context_handle,
                                        gss_qop_t* qop_state, gss_iov_buffer_desc* iov,
                                        int count) {
  return iov_call(minor, context_handle, GSSGATE__V1__IOV_OP__IOV_OP_VERIFY_MIC, 0, 0, NULL,
                  qop_state, iov, count);
}

GG_EXPORT OM_uint32 gssi_get_mic_iov_length(OM_uint32* minor, gss_ctx_id_t context_handle,
                                            gss_qop_t qop, gss_iov_buffer_desc* iov, int count) {
  return iov_call(minor, context_handle, GSSGATE__V1__IOV_OP__IOV_OP_GET_MIC_LENGTH, 0, qop, NULL,
                  NULL, iov, count);
}
