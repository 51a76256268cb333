#include "daemon/handlers/common.h"
#include "lib/util/status_macros.h"

namespace gssgate::daemon {

// gss_delete_name_attribute (RFC 6680) on a copy of the caller's name, which comes back changed.
absl::Status Service::DeleteNameAttribute(const Call& call,
                                          const v1::DeleteNameAttributeRequest& request,
                                          v1::DeleteNameAttributeReply* reply) {
  if (request.attribute().empty()) return absl::InvalidArgumentError("attribute is empty");
  gss::NameHandle name;
  gss::GssStatus status;
  GSSGATE_RETURN_IF_ERROR(import_wire_name(call, request.name(), "name", &name, &status));
  if (status.ok()) status = settable_attribute(call, request.attribute(), "delete_name_attribute");
  if (status.ok()) status = gss::delete_name_attribute(name, request.attribute());
  to_proto(status, reply->mutable_status());
  if (status.ok()) name_to_proto(call, name, reply->mutable_name());
  return absl::OkStatus();
}

}  // namespace gssgate::daemon
