#include "daemon/handlers/common.h"
#include "lib/util/status_macros.h"
#include "spdlog/spdlog.h"

namespace gssgate::daemon {

// gss_export_sec_context: hands the context, session key included, to the caller and drops the
// handle. Only where the caller's rule says export_context = true.
absl::Status Service::ExportContext(const Call& call, const v1::ExportContextRequest& request,
                                    v1::ExportContextReply* reply) {
  // The handle first: a handle that is not the caller's is NOT_FOUND whatever the policy, so
  // answers never differ between someone else's handle and random bytes.
  GSSGATE_ASSIGN_OR_RETURN(auto entry,
                           table().find(call.owner, request.context(), HandleKind::kContext));
  GSSGATE_RETURN_IF_ERROR(require(call, Right::kExportContext, "export_context",
                                  "exporting security contexts, whose session keys would leave "
                                  "the daemon"));

  std::string token;
  gss::GssStatus status;
  {
    absl::MutexLock lock(&entry->mu);
    status = gss::export_context(&entry->context, &token);
  }
  if (status.ok()) {
    // Remembered so ImportContext can take this token, and only tokens like it, back.
    absl::StatusOr<std::string> mac =
        sealer() != nullptr ? sealer()->mac(token) : absl::UnavailableError("no sealing key");
    if (mac.ok()) {
      remember_exported_context(call.owner.uid, export_binding(call), *mac);
    } else {
      spdlog::warn("export_context: {}; the token cannot be imported here again",
                   std::string(mac.status().message()));
    }
  }
  to_proto(status, reply->mutable_status());
  if (status.ok()) {
    reply->set_token(std::move(token));
    // GSSAPI consumed the context: the handle goes with it.
    table().erase(call.owner, request.context(), HandleKind::kContext).IgnoreError();
  }
  audit(call, "export_context", absl::StrCat("token_bytes=", reply->token().size()),
        status.ok() ? "ok" : absl::StrCat("gss-error ", log_value(status.message())));
  return absl::OkStatus();
}

}  // namespace gssgate::daemon
