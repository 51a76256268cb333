#include "lib/gss/context.h"

#include <gssapi/gssapi_ext.h>
#include <string.h>

#include <cstdint>

#include "absl/status/status.h"

namespace gssgate::gss {

gss_channel_bindings_struct ChannelBindings::desc() const {
  gss_channel_bindings_struct cb{};
  cb.initiator_addrtype = initiator_address_type;
  cb.initiator_address = input_buffer(initiator_address);
  cb.acceptor_addrtype = acceptor_address_type;
  cb.acceptor_address = input_buffer(acceptor_address);
  cb.application_data = input_buffer(application_data);
  return cb;
}

GssStatus init_sec_context(ContextHandle* ctx, const InitSecContextRequest& request,
                           InitSecContextResult* out) {
  OM_uint32 minor = 0;
  gss_OID_desc mech_desc = request.mech.desc();
  gss_channel_bindings_struct cb{};
  if (request.bindings != nullptr) cb = request.bindings->desc();
  gss_buffer_desc input = input_buffer(request.input_token);
  gss_OID actual_mech = GSS_C_NO_OID;
  Buffer output;
  OM_uint32 ret_flags = 0;
  OM_uint32 time_rec = 0;
  OM_uint32 major =
      gss_init_sec_context(&minor, request.cred ? request.cred->get() : GSS_C_NO_CREDENTIAL,
                           ctx->inout(), request.target ? request.target->get() : GSS_C_NO_NAME,
                           request.mech.empty() ? GSS_C_NO_OID : &mech_desc, request.flags.bits(),
                           request.lifetime, request.bindings ? &cb : GSS_C_NO_CHANNEL_BINDINGS,
                           &input, &actual_mech, output.out(), &ret_flags, &time_rec);
  GssStatus status = check("gss_init_sec_context", major, minor,
                           actual_mech != GSS_C_NO_OID ? actual_mech : &mech_desc);
  out->output_token = output.str();
  out->mech = Oid::from_gss(actual_mech);
  out->flags = Flags::from_bits(ret_flags);
  out->lifetime = time_rec;
  return status;
}

namespace {
// One DER value with tag `tag` at the front of *in, read as MIT's k5_der_get_value reads it (short
// or long length form, no minimal-encoding check); its contents in *contents, *in advanced.
bool take_der_value(std::string_view* in, uint8_t tag, std::string_view* contents) {
  if (in->size() < 2 || static_cast<uint8_t>((*in)[0]) != tag) return false;
  const uint8_t first = static_cast<uint8_t>((*in)[1]);
  in->remove_prefix(2);
  size_t length = first;
  if (first >= 0x80) {
    length = 0;
    for (int i = 0; i < (first & 0x7f); ++i) {
      if (in->empty() || length > (SIZE_MAX >> 8)) return false;
      length = (length << 8) | static_cast<uint8_t>((*in)[0]);
      in->remove_prefix(1);
    }
  }
  if (length > in->size()) return false;
  *contents = in->substr(0, length);
  in->remove_prefix(length);
  return true;
}
}  // namespace

absl::StatusOr<Oid> initial_token_mech(std::string_view token) {
  constexpr std::string_view kNtlmSignature("NTLMSSP\0", 8);
  if (token.substr(0, kNtlmSignature.size()) == kNtlmSignature) return oids::ntlm();
  if (token.empty()) return oids::spnego();
  if (static_cast<uint8_t>(token[0]) == 0x6e) return oids::krb5();
  std::string_view in = token;
  std::string_view framed;
  std::string_view der;
  if (!take_der_value(&in, 0x60, &framed) || !take_der_value(&framed, 0x06, &der)) {
    return absl::InvalidArgumentError(
        "the token has no RFC 2743 initial-context-token header naming its mechanism");
  }
  return Oid::from_der(der);
}

GssStatus accept_sec_context(ContextHandle* ctx, const AcceptSecContextRequest& request,
                             AcceptSecContextResult* out) {
  OM_uint32 minor = 0;
  gss_channel_bindings_struct cb{};
  if (request.bindings != nullptr) cb = request.bindings->desc();
  gss_buffer_desc input = input_buffer(request.input_token);
  NameHandle src_name;
  gss_OID mech = GSS_C_NO_OID;
  Buffer output;
  OM_uint32 ret_flags = 0;
  OM_uint32 time_rec = 0;
  CredHandle delegated;
  OM_uint32 major = gss_accept_sec_context(
      &minor, ctx->inout(), request.cred ? request.cred->get() : GSS_C_NO_CREDENTIAL, &input,
      request.bindings ? &cb : GSS_C_NO_CHANNEL_BINDINGS, src_name.out(), &mech, output.out(),
      &ret_flags, &time_rec, delegated.out());
  GssStatus status = check("gss_accept_sec_context", major, minor, mech);
  out->output_token = output.str();
  out->mech = Oid::from_gss(mech);
  out->flags = Flags::from_bits(ret_flags);
  out->lifetime = time_rec;
  out->initiator_name = std::move(src_name);
  out->delegated_cred = std::move(delegated);
  return status;
}

GssStatus wrap(const ContextHandle& ctx, std::string_view message, bool encrypt, gss_qop_t qop,
               WrapResult* out) {
  OM_uint32 minor = 0;
  gss_buffer_desc in = input_buffer(message);
  int conf_state = 0;
  Buffer token;
  OM_uint32 major =
      gss_wrap(&minor, ctx.get(), encrypt ? 1 : 0, qop, &in, &conf_state, token.out());
  GssStatus status = check("gss_wrap", major, minor);
  if (status.ok()) *out = WrapResult{token.str(), conf_state != 0};
  return status;
}

GssStatus unwrap(const ContextHandle& ctx, std::string_view token, UnwrapResult* out) {
  OM_uint32 minor = 0;
  gss_buffer_desc in = input_buffer(token);
  Buffer message;
  int conf_state = 0;
  gss_qop_t qop = GSS_C_QOP_DEFAULT;
  OM_uint32 major = gss_unwrap(&minor, ctx.get(), &in, message.out(), &conf_state, &qop);
  GssStatus status = check("gss_unwrap", major, minor);
  if (status.ok()) *out = UnwrapResult{message.str(), conf_state != 0, qop};
  return status;
}

GssStatus get_mic(const ContextHandle& ctx, std::string_view message, gss_qop_t qop,
                  std::string* mic) {
  OM_uint32 minor = 0;
  gss_buffer_desc in = input_buffer(message);
  Buffer token;
  OM_uint32 major = gss_get_mic(&minor, ctx.get(), qop, &in, token.out());
  GssStatus status = check("gss_get_mic", major, minor);
  if (status.ok()) *mic = token.str();
  return status;
}

GssStatus verify_mic(const ContextHandle& ctx, std::string_view message, std::string_view mic,
                     gss_qop_t* qop) {
  OM_uint32 minor = 0;
  gss_buffer_desc in = input_buffer(message);
  gss_buffer_desc token = input_buffer(mic);
  gss_qop_t qop_state = GSS_C_QOP_DEFAULT;
  OM_uint32 major = gss_verify_mic(&minor, ctx.get(), &in, &token, &qop_state);
  GssStatus status = check("gss_verify_mic", major, minor);
  if (status.ok() && qop != nullptr) *qop = qop_state;
  return status;
}

GssStatus wrap_size_limit(const ContextHandle& ctx, bool encrypt, gss_qop_t qop,
                          OM_uint32 max_output, OM_uint32* max_input) {
  OM_uint32 minor = 0;
  OM_uint32 limit = 0;
  OM_uint32 major =
      gss_wrap_size_limit(&minor, ctx.get(), encrypt ? 1 : 0, qop, max_output, &limit);
  GssStatus status = check("gss_wrap_size_limit", major, minor);
  if (status.ok()) *max_input = limit;
  return status;
}

GssStatus inquire_context(const ContextHandle& ctx, ContextInfo* out, ContextNames names) {
  OM_uint32 minor = 0;
  NameHandle src;
  NameHandle targ;
  OM_uint32 lifetime = 0;
  gss_OID mech = GSS_C_NO_OID;
  OM_uint32 flags = 0;
  int locally_initiated = 0;
  int open = 0;
  OM_uint32 major = gss_inquire_context(&minor, ctx.get(), names.initiator ? src.out() : nullptr,
                                        names.target ? targ.out() : nullptr, &lifetime, &mech,
                                        &flags, &locally_initiated, &open);
  GssStatus status = check("gss_inquire_context", major, minor, mech);
  if (status.ok()) {
    out->initiator_name = std::move(src);
    out->target_name = std::move(targ);
    out->lifetime = lifetime;
    out->mech = Oid::from_gss(mech);
    out->flags = Flags::from_bits(flags);
    out->locally_initiated = locally_initiated != 0;
    out->open = open != 0;
  }
  return status;
}

GssStatus context_time(const ContextHandle& ctx, OM_uint32* seconds) {
  OM_uint32 minor = 0;
  OM_uint32 time_rec = 0;
  OM_uint32 major = gss_context_time(&minor, ctx.get(), &time_rec);
  GssStatus status = check("gss_context_time", major, minor);
  if (status.ok()) *seconds = time_rec;
  return status;
}

GssStatus inquire_sec_context_by_oid(const ContextHandle& ctx, const Oid& what,
                                     std::vector<std::string>* values) {
  OM_uint32 minor = 0;
  gss_buffer_set_t set = GSS_C_NO_BUFFER_SET;
  gss_OID_desc oid = what.desc();
  OM_uint32 major = gss_inquire_sec_context_by_oid(&minor, ctx.get(), &oid, &set);
  GssStatus status = check("gss_inquire_sec_context_by_oid", major, minor);
  take_buffer_set(&set, status.ok(), values);
  return status;
}

GssStatus export_context(ContextHandle* ctx, std::string* token) {
  OM_uint32 minor = 0;
  Buffer out;
  OM_uint32 major = gss_export_sec_context(&minor, ctx->inout(), out.out());
  GssStatus status = check("gss_export_sec_context", major, minor);
  if (status.ok()) *token = out.str();
  return status;
}

GssStatus import_context(std::string_view token, ContextHandle* out) {
  OM_uint32 minor = 0;
  gss_buffer_desc in = input_buffer(token);
  ContextHandle ctx;
  OM_uint32 major = gss_import_sec_context(&minor, &in, ctx.out());
  GssStatus status = check("gss_import_sec_context", major, minor);
  if (status.ok()) *out = std::move(ctx);
  return status;
}

GssStatus process_context_token(const ContextHandle& ctx, std::string_view token) {
  OM_uint32 minor = 0;
  gss_buffer_desc in = input_buffer(token);
  OM_uint32 major = gss_process_context_token(&minor, ctx.get(), &in);
  return check("gss_process_context_token", major, minor);
}

}  // namespace gssgate::gss
