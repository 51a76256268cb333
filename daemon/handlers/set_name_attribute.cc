#include "daemon/handlers/common.h"
#include "lib/util/status_macros.h"

namespace gssgate::daemon {

// gss_set_name_attribute (RFC 6680) on a copy of the caller's name, which comes back changed.
absl::Status Service::SetNameAttribute(const Call& call, const v1::SetNameAttributeRequest& request,
                                       v1::SetNameAttributeReply* reply) {
  if (request.attribute().empty()) return absl::InvalidArgumentError("attribute is empty");
  if (request.values().empty()) {
    return absl::InvalidArgumentError("values is empty (to remove an attribute, delete it)");
  }
  gss::NameHandle name;
  gss::GssStatus status;
  GSSGATE_RETURN_IF_ERROR(import_wire_name(call, request.name(), "name", &name, &status));
  if (status.ok()) status = settable_attribute(call, request.attribute(), "set_name_attribute");
  if (status.ok()) {
    std::vector<std::string> values(request.values().begin(), request.values().end());
    status = gss::set_name_attribute(name, request.attribute(), request.complete(), values);
  }
  to_proto(status, reply->mutable_status());
  if (status.ok()) name_to_proto(call, name, reply->mutable_name());
  return absl::OkStatus();
}

}  // namespace gssgate::daemon
