#include "daemon/handlers/common.h"
#include "lib/util/status_macros.h"

namespace gssgate::daemon {

// gss_import_sec_context: a context this daemon exported to the same uid becomes a handle of the
// caller again, once (Service::take_exported_context). Any other token is refused before MIT sees
// it: MIT's context deserializer is memory-unsafe on malformed input (fuzzing found a heap
// overflow, leaks and 4 GiB allocations in krb5 1.20). Only where the rule allows export_context.
absl::Status Service::ImportContext(const Call& call, const v1::ImportContextRequest& request,
                                    v1::ImportContextReply* reply) {
  GSSGATE_RETURN_IF_ERROR(
      require(call, Right::kExportContext, "import_context", "importing security contexts"));

  absl::StatusOr<std::string> mac = sealer() != nullptr ? sealer()->mac(request.token())
                                                        : absl::UnavailableError("no sealing key");
  if (!mac.ok() || !take_exported_context(call.owner.uid, export_binding(call), *mac)) {
    to_proto(refusal("gss_import_sec_context", GSS_S_DEFECTIVE_TOKEN,
                     "gssgate imports only context tokens this daemon exported to the same uid, "
                     "each once; this one was made elsewhere, altered, already imported, or "
                     "exported before the daemon restarted (import it into in-process GSSAPI "
                     "instead)"),
             reply->mutable_status());
    audit(call, "import_context", absl::StrCat("token_bytes=", request.token().size()),
          "refused \"not a token this daemon exported to this uid\"");
    return absl::OkStatus();
  }
  gss::GssStatus status;
  std::shared_ptr<Entry> entry = imported_context_entry(call.owner, request.token(), &status);
  to_proto(status, reply->mutable_status());
  if (!entry) return absl::OkStatus();
  entry->hide_delegation =
      entry->role == Entry::Role::kAcceptor && !call.grant.has(Right::kAcceptDelegated);
  GSSGATE_ASSIGN_OR_RETURN(std::string handle, table().insert(entry, call.grant.max_handles()));
  reply->set_context(handle);
  return absl::OkStatus();
}

}  // namespace gssgate::daemon
