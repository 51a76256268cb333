#include "daemon/handlers/common.h"
#include "lib/util/status_macros.h"

namespace gssgate::daemon {

// gss_get_mic.
absl::Status Service::GetMic(const Call& call, const v1::GetMicRequest& request,
                             v1::GetMicReply* reply) {
  GSSGATE_ASSIGN_OR_RETURN(auto entry,
                           table().find(call.owner, request.context(), HandleKind::kContext));
  std::string mic;
  gss::GssStatus status;
  {
    absl::MutexLock lock(&entry->mu);
    status = gss::get_mic(entry->context, request.message(), request.qop(), &mic);
  }
  to_proto(status, reply->mutable_status());
  if (status.ok()) reply->set_mic(std::move(mic));
  return absl::OkStatus();
}

}  // namespace gssgate::daemon
