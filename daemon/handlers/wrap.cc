#include "daemon/handlers/common.h"
#include "lib/util/status_macros.h"

namespace gssgate::daemon {

// gss_wrap.
absl::Status Service::Wrap(const Call& call, const v1::WrapRequest& request, v1::WrapReply* reply) {
  GSSGATE_ASSIGN_OR_RETURN(auto entry,
                           table().find(call.owner, request.context(), HandleKind::kContext));
  gss::WrapResult out;
  gss::GssStatus status;
  {
    absl::MutexLock lock(&entry->mu);
    status = gss::wrap(entry->context, request.message(), request.encrypt(), request.qop(), &out);
  }
  to_proto(status, reply->mutable_status());
  if (status.ok()) {
    reply->set_token(std::move(out.token));
    reply->set_encrypted(out.encrypted);
  }
  return absl::OkStatus();
}

}  // namespace gssgate::daemon
