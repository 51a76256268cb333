#include "daemon/handlers/common.h"
#include "lib/util/status_macros.h"

namespace gssgate::daemon {

// gss_import_sec_context: a context exported earlier becomes a handle of this caller.
absl::Status Service::ImportContext(const Call& call, const v1::ImportContextRequest& request,
                                    v1::ImportContextReply* reply) {
  gss::ContextHandle ctx;
  gss::GssStatus status = gss::import_context(request.token(), &ctx);
  to_proto(status, reply->mutable_status());
  if (!status.ok()) return absl::OkStatus();
  auto entry = std::make_shared<Entry>(call.owner, HandleKind::kContext);
  {
    absl::MutexLock lock(&entry->mu);
    entry->context = std::move(ctx);
  }
  GSSGATE_ASSIGN_OR_RETURN(std::string handle, table().insert(entry, call.rule->max_handles));
  reply->set_context(handle);
  return absl::OkStatus();
}

}  // namespace gssgate::daemon
