#include "daemon/handlers/common.h"
#include "lib/util/status_macros.h"

namespace gssgate::daemon {

// gss_inquire_cred_by_mech on one of the caller's credential handles.
absl::Status Service::InquireCredByMech(const Call& call,
                                        const v1::InquireCredByMechRequest& request,
                                        v1::InquireCredByMechReply* reply) {
  GSSGATE_ASSIGN_OR_RETURN(gss::Oid mech, oid_field(request.mech(), "mech"));
  if (mech.empty()) return absl::InvalidArgumentError("mech is required");
  GSSGATE_ASSIGN_OR_RETURN(auto entry,
                           table().find(call.owner, request.creds(), HandleKind::kCred));
  gss::CredByMechInfo info;
  gss::GssStatus status = gss::inquire_cred_by_mech(entry->cred, mech, &info);
  to_proto(status, reply->mutable_status());
  if (status.ok()) {
    if (info.name) name_to_proto(call, info.name, reply->mutable_name());
    reply->set_init_lifetime(info.init_lifetime);
    reply->set_accept_lifetime(info.accept_lifetime);
    reply->set_usage(usage_to_proto(info.usage));
  }
  return absl::OkStatus();
}

}  // namespace gssgate::daemon
