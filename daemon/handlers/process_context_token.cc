#include "daemon/handlers/common.h"
#include "lib/util/status_macros.h"

namespace gssgate::daemon {

// gss_process_context_token.
absl::Status Service::ProcessContextToken(const Call& call,
                                          const v1::ProcessContextTokenRequest& request,
                                          v1::ProcessContextTokenReply* reply) {
  GSSGATE_ASSIGN_OR_RETURN(auto entry,
                           table().find(call.owner, request.context(), HandleKind::kContext));
  gss::GssStatus status;
  {
    absl::MutexLock lock(&entry->mu);
    status = gss::process_context_token(entry->context, request.token());
  }
  to_proto(status, reply->mutable_status());
  return absl::OkStatus();
}

}  // namespace gssgate::daemon
