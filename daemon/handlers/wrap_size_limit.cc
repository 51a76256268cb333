#include "daemon/handlers/common.h"
#include "lib/util/status_macros.h"

namespace gssgate::daemon {

// gss_wrap_size_limit.
absl::Status Service::WrapSizeLimit(const Call& call, const v1::WrapSizeLimitRequest& request,
                                    v1::WrapSizeLimitReply* reply) {
  GSSGATE_ASSIGN_OR_RETURN(auto entry,
                           table().find(call.owner, request.context(), HandleKind::kContext));
  OM_uint32 max_input = 0;
  gss::GssStatus status;
  {
    absl::MutexLock lock(&entry->mu);
    status = gss::wrap_size_limit(entry->context, request.encrypt(), request.qop(),
                                  request.max_output_size(), &max_input);
  }
  to_proto(status, reply->mutable_status());
  if (status.ok()) reply->set_max_input_size(max_input);
  return absl::OkStatus();
}

}  // namespace gssgate::daemon
