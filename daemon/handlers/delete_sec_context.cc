#include "daemon/handlers/common.h"
#include "lib/util/status_macros.h"

namespace gssgate::daemon {

// gss_delete_sec_context: the handle goes, and GSSAPI frees the context with it.
absl::Status Service::DeleteSecContext(const Call& call, const v1::DeleteSecContextRequest& request,
                                       v1::DeleteSecContextReply* reply) {
  GSSGATE_RETURN_IF_ERROR(table().erase(call.owner, request.context(), HandleKind::kContext));
  to_proto(gss::check("gss_delete_sec_context", GSS_S_COMPLETE, 0), reply->mutable_status());
  return absl::OkStatus();
}

}  // namespace gssgate::daemon
