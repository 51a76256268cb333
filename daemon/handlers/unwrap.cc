#include "daemon/handlers/common.h"
#include "lib/util/status_macros.h"

namespace gssgate::daemon {

// gss_unwrap. Replay/sequence findings are supplementary bits of a successful status.
absl::Status Service::Unwrap(const Call& call, const v1::UnwrapRequest& request,
                             v1::UnwrapReply* reply) {
  GSSGATE_ASSIGN_OR_RETURN(auto entry,
                           table().find(call.owner, request.context(), HandleKind::kContext));
  gss::UnwrapResult out;
  gss::GssStatus status;
  {
    absl::MutexLock lock(&entry->mu);
    status = gss::unwrap(entry->context, request.token(), &out);
  }
  to_proto(status, reply->mutable_status());
  if (status.ok()) {
    reply->set_message(std::move(out.message));
    reply->set_encrypted(out.encrypted);
    reply->set_qop(out.qop);
  }
  return absl::OkStatus();
}

}  // namespace gssgate::daemon
