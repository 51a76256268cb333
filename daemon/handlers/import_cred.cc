#include <string.h>

#include "daemon/handlers/common.h"
#include "lib/util/status_macros.h"

namespace gssgate::daemon {

// gss_import_cred of a token this daemon sealed with ExportCred for the same uid: a new handle of
// the caller. A token exported by another uid is refused like an altered one (DEFECTIVE_TOKEN).
absl::Status Service::ImportCred(const Call& call, const v1::ImportCredRequest& request,
                                 v1::ImportCredReply* reply) {
  if (sealer() == nullptr) return absl::UnavailableError("credential import is unavailable");
  absl::StatusOr<std::string> token =
      sealer()->open(request.token(), cred_token_binding(call.owner.uid));
  if (!token.ok()) {
    gss::GssStatus status = gss::check("gss_import_cred", GSS_S_DEFECTIVE_TOKEN, 0);
    status.minor_text = {std::string(token.status().message())};
    to_proto(status, reply->mutable_status());
    return absl::OkStatus();
  }
  gss::CredHandle cred;
  gss::GssStatus status = gss::import_cred(*token, &cred);
  explicit_bzero(token->data(), token->size());
  to_proto(status, reply->mutable_status());
  if (!status.ok()) return absl::OkStatus();
  auto entry = std::make_shared<Entry>(call.owner, HandleKind::kCred);
  entry->cred = std::move(cred);
  GSSGATE_ASSIGN_OR_RETURN(std::string handle, table().insert(entry, call.rule->max_handles));
  reply->set_creds(handle);
  audit(call, "import_cred", absl::StrCat("token_bytes=", request.token().size()), "ok");
  return absl::OkStatus();
}

}  // namespace gssgate::daemon
