#include "daemon/handlers/common.h"
#include "lib/util/status_macros.h"

namespace gssgate::daemon {

// gss_context_time.
absl::Status Service::ContextTime(const Call& call, const v1::ContextTimeRequest& request,
                                  v1::ContextTimeReply* reply) {
  GSSGATE_ASSIGN_OR_RETURN(auto entry,
                           table().find(call.owner, request.context(), HandleKind::kContext));
  OM_uint32 seconds = 0;
  gss::GssStatus status;
  {
    absl::MutexLock lock(&entry->mu);
    status = gss::context_time(entry->context, &seconds);
  }
  to_proto(status, reply->mutable_status());
  if (status.ok()) reply->set_lifetime(seconds);
  return absl::OkStatus();
}

}  // namespace gssgate::daemon
