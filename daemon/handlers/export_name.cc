#include "daemon/handlers/common.h"
#include "lib/util/status_macros.h"

namespace gssgate::daemon {

// gss_export_name (the RFC 2743 §3.2 token of a mechanism name) or gss_export_name_composite.
absl::Status Service::ExportName(const Call& call, const v1::ExportNameRequest& request,
                                 v1::ExportNameReply* reply) {
  gss::NameHandle name;
  gss::GssStatus status;
  GSSGATE_RETURN_IF_ERROR(import_wire_name(call, request.name(), "name", &name, &status));
  std::string token;
  if (status.ok()) {
    status = request.composite() ? gss::export_name_composite(name, &token)
                                 : gss::export_name(name, &token);
  }
  to_proto(status, reply->mutable_status());
  if (status.ok()) reply->set_token(std::move(token));
  return absl::OkStatus();
}

}  // namespace gssgate::daemon
