#include "daemon/handlers/common.h"
#include "lib/util/status_macros.h"

namespace gssgate::daemon {

// gss_inquire_context.
absl::Status Service::InquireContext(const Call& call, const v1::InquireContextRequest& request,
                                     v1::InquireContextReply* reply) {
  GSSGATE_ASSIGN_OR_RETURN(auto entry,
                           table().find(call.owner, request.context(), HandleKind::kContext));
  gss::ContextInfo info;
  gss::GssStatus status;
  {
    absl::MutexLock lock(&entry->mu);
    status = gss::inquire_context(entry->context, &info);
  }
  to_proto(status, reply->mutable_status());
  if (status.ok()) {
    if (info.initiator_name)
      name_to_proto(call, info.initiator_name, reply->mutable_initiator_name());
    if (info.target_name) name_to_proto(call, info.target_name, reply->mutable_target_name());
    reply->set_lifetime(info.lifetime);
    reply->set_mech(info.mech.der());
    if (entry->hide_delegation) info.flags = info.flags - gss::Flag::kDelegate;
    reply->set_flags(info.flags.bits());
    reply->set_locally_initiated(info.locally_initiated);
    reply->set_complete(info.open);
  }
  return absl::OkStatus();
}

}  // namespace gssgate::daemon
