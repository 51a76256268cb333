#include "daemon/handlers/common.h"
#include "lib/util/status_macros.h"

namespace gssgate::daemon {

// gss_inquire_cred on one of the caller's credential handles.
absl::Status Service::InquireCred(const Call& call, const v1::InquireCredRequest& request,
                                  v1::InquireCredReply* reply) {
  GSSGATE_ASSIGN_OR_RETURN(auto entry,
                           table().find(call.owner, request.creds(), HandleKind::kCred));
  gss::CredInfo info;
  gss::GssStatus status = gss::inquire_cred(entry->cred, &info);
  to_proto(status, reply->mutable_status());
  if (status.ok()) {
    if (info.name) name_to_proto(call, info.name, reply->mutable_name());
    reply->set_lifetime(info.lifetime);
    reply->set_usage(usage_to_proto(info.usage));
    for (const gss::Oid& mech : info.mechs) reply->add_mechs(mech.der());
  }
  return absl::OkStatus();
}

}  // namespace gssgate::daemon
