#include "daemon/handlers/common.h"
#include "lib/util/status_macros.h"

namespace gssgate::daemon {

// gss_import_name: validates a name and shows how GSSAPI reads it.
absl::Status Service::ImportName(const Call& call, const v1::ImportNameRequest& request,
                                 v1::ImportNameReply* reply) {
  gss::NameHandle name;
  gss::GssStatus status;
  GSSGATE_RETURN_IF_ERROR(import_wire_name(call, request.name(), "name", &name, &status));
  to_proto(status, reply->mutable_status());
  if (status.ok()) {
    *reply->mutable_name() = request.name();
    gss::DisplayedName shown;
    gss::GssStatus s = gss::display_name(name, &shown);
    if (!s.ok()) {
      to_proto(s, reply->mutable_status());
      return absl::OkStatus();
    }
    reply->mutable_name()->set_display(shown.text);
    reply->mutable_name()->set_display_type(shown.type.der());
  }
  return absl::OkStatus();
}

}  // namespace gssgate::daemon
