#include "daemon/handlers/common.h"
#include "lib/util/status_macros.h"

namespace gssgate::daemon {

// One AcceptSecContext step on a fresh context that is released as it completes: everything the
// server needs comes back in one reply, and no context handle is ever registered. Policy, the
// credential checks, delegation and the audit line are AcceptSecContext's own.
absl::Status Service::AcceptOnce(const Call& call, const v1::AcceptOnceRequest& request,
                                 v1::AcceptOnceReply* reply) {
  v1::AcceptSecContextRequest step;
  step.set_creds(request.creds());
  step.set_input_token(request.input_token());
  if (request.has_channel_bindings()) {
    *step.mutable_channel_bindings() = request.channel_bindings();
  }
  step.set_release_when_complete(true);
  v1::AcceptSecContextReply accepted;
  GSSGATE_RETURN_IF_ERROR(accept_step(call, step, &accepted, /*once=*/true));
  if (accepted.continue_needed()) {
    // The mechanism wants another token (SPNEGO negotiating a mechanism other than the one the
    // initiator guessed, say): the context was never registered and is gone with this call, so
    // the handshake fails here.
    reply->set_needs_another_step(true);
    gss::GssStatus failed = gss::check("gss_accept_sec_context", GSS_S_FAILURE, 0);
    failed.minor_text = {
        "accept_once: the mechanism needs another round trip, which a one-shot accept cannot "
        "give it; use AcceptSecContext (a SecurityContext) for multi-step handshakes"};
    to_proto(failed, reply->mutable_status());
    audit(call, "accept_once", absl::StrCat("token_bytes=", request.input_token().size()),
          "failed (the mechanism needs another step)");
    return absl::OkStatus();
  }
  *reply->mutable_status() = std::move(*accepted.mutable_status());
  reply->set_output_token(std::move(*accepted.mutable_output_token()));
  if (accepted.has_initiator_name()) {
    *reply->mutable_initiator_name() = std::move(*accepted.mutable_initiator_name());
  }
  if (accepted.has_target_name()) {
    *reply->mutable_target_name() = std::move(*accepted.mutable_target_name());
  }
  reply->set_mech(std::move(*accepted.mutable_mech()));
  reply->set_flags(accepted.flags());
  reply->set_lifetime(accepted.lifetime());
  reply->set_delegated_creds(std::move(*accepted.mutable_delegated_creds()));
  return absl::OkStatus();
}

}  // namespace gssgate::daemon
