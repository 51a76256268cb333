#include "daemon/handlers/common.h"
#include "lib/util/status_macros.h"

namespace gssgate::daemon {

// gss_verify_mic.
absl::Status Service::VerifyMic(const Call& call, const v1::VerifyMicRequest& request,
                                v1::VerifyMicReply* reply) {
  GSSGATE_ASSIGN_OR_RETURN(auto entry,
                           table().find(call.owner, request.context(), HandleKind::kContext));
  gss_qop_t qop = GSS_C_QOP_DEFAULT;
  gss::GssStatus status;
  {
    absl::MutexLock lock(&entry->mu);
    status = gss::verify_mic(entry->context, request.message(), request.mic(), &qop);
  }
  to_proto(status, reply->mutable_status());
  if (status.ok()) reply->set_qop(qop);
  return absl::OkStatus();
}

}  // namespace gssgate::daemon
