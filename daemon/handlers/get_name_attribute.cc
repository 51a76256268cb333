#include "daemon/handlers/common.h"
#include "lib/util/status_macros.h"

namespace gssgate::daemon {

// gss_get_name_attribute (RFC 6680): every value of one attribute.
absl::Status Service::GetNameAttribute(const Call& call, const v1::GetNameAttributeRequest& request,
                                       v1::GetNameAttributeReply* reply) {
  if (request.attribute().empty()) return absl::InvalidArgumentError("attribute is empty");
  gss::NameHandle name;
  gss::GssStatus status;
  GSSGATE_RETURN_IF_ERROR(import_wire_name(call, request.name(), "name", &name, &status));
  gss::NameAttribute attribute;
  if (status.ok()) status = gss::get_name_attribute(name, request.attribute(), &attribute);
  to_proto(status, reply->mutable_status());
  if (status.ok()) {
    reply->set_authenticated(attribute.authenticated);
    reply->set_complete(attribute.complete);
    for (std::string& v : attribute.values) reply->add_values(std::move(v));
    for (std::string& v : attribute.display_values) reply->add_display_values(std::move(v));
  }
  return absl::OkStatus();
}

}  // namespace gssgate::daemon
