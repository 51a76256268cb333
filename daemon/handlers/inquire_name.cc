#include "daemon/handlers/common.h"
#include "lib/util/status_macros.h"

namespace gssgate::daemon {

// gss_inquire_name (RFC 6680): whether the name is a mechanism name, its mechanism, and the names
// of its attributes.
absl::Status Service::InquireName(const Call& call, const v1::InquireNameRequest& request,
                                  v1::InquireNameReply* reply) {
  gss::NameHandle name;
  gss::GssStatus status;
  GSSGATE_RETURN_IF_ERROR(import_wire_name(call, request.name(), "name", &name, &status));
  gss::NameInfo info;
  if (status.ok()) status = gss::inquire_name(name, &info);
  to_proto(status, reply->mutable_status());
  if (status.ok()) {
    reply->set_is_mech_name(info.is_mech_name);
    reply->set_mech(info.mech.der());
    for (std::string& attribute : info.attributes) reply->add_attributes(std::move(attribute));
  }
  return absl::OkStatus();
}

}  // namespace gssgate::daemon
