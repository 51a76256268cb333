#include "daemon/handlers/common.h"
#include "lib/util/status_macros.h"

namespace gssgate::daemon {

// gss_display_name, or gss_display_name_ext when display_as names a syntax.
absl::Status Service::DisplayName(const Call& call, const v1::DisplayNameRequest& request,
                                  v1::DisplayNameReply* reply) {
  GSSGATE_ASSIGN_OR_RETURN(gss::Oid as_type, oid_field(request.display_as(), "display_as"));
  gss::NameHandle name;
  gss::GssStatus status;
  GSSGATE_RETURN_IF_ERROR(import_wire_name(call, request.name(), "name", &name, &status));
  gss::DisplayedName shown;
  if (status.ok() && !as_type.empty()) {
    status = gss::display_name_ext(name, as_type, &shown.text);
    shown.type = as_type;
  } else if (status.ok()) {
    status = gss::display_name(name, &shown);
  }
  to_proto(status, reply->mutable_status());
  if (status.ok()) {
    reply->set_display(shown.text);
    reply->set_display_type(shown.type.der());
  }
  return absl::OkStatus();
}

}  // namespace gssgate::daemon
