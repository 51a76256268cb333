#include "daemon/handlers/common.h"
#include "lib/gss/name.h"
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
  // A name without attributes goes out as MIT made it: it carries nothing but the name (as a
  // plain exported name does), and programs that parse RFC 6680 tokens themselves (MIT's
  // mechglue, in a program using gssgate's interposer) can read it.
  if (status.ok() && request.composite() &&
      !gss::composite_token_without_attributes(token).has_value()) {
    // A composite token carries authorization data (the PAC) that the daemon will not take back
    // from a caller as bytes: it goes out sealed, bound as exported contexts are (uid, rule,
    // cgroup), and ImportName opens only such tokens (import_wire_name).
    absl::StatusOr<std::string> sealed =
        call.sealer != nullptr
            ? call.sealer->seal(token, exported_name_binding(call))
            : absl::UnavailableError("gssgated has no sealing key (see its log at start)");
    if (sealed.ok()) {
      token = *std::move(sealed);
    } else {
      status = gss::check("gss_export_name_composite", GSS_S_UNAVAILABLE, 0);
      status.minor_text = {absl::StrCat("a composite name token cannot be issued: ",
                                        sealed.status().message())};
    }
  }
  to_proto(status, reply->mutable_status());
  if (status.ok()) reply->set_token(std::move(token));
  return absl::OkStatus();
}

}  // namespace gssgate::daemon
