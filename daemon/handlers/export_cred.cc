#include <string.h>

#include <algorithm>

#include "absl/time/clock.h"
#include "daemon/handlers/common.h"
#include "lib/util/status_macros.h"

namespace gssgate::daemon {

// gss_export_cred, sealed: the token carries the credentials' keys, so it leaves the daemon only
// encrypted under a key that never does (DESIGN.md §4), only where the rule allows it, and bound
// to the exporting uid: for anyone else it is useless (ImportCred refuses it).
absl::Status Service::ExportCred(const Call& call, const v1::ExportCredRequest& request,
                                 v1::ExportCredReply* reply) {
  GSSGATE_RETURN_IF_ERROR(
      require(call, Right::kExportCreds, "export_cred", "exporting credentials"));

  if (sealer() == nullptr) return absl::UnavailableError("credential export is unavailable");
  GSSGATE_ASSIGN_OR_RETURN(auto entry,
                           table().find(call.owner, request.creds(), HandleKind::kCred));
  // The token expires with the credential, after a day at most: a bearer token should not outlive
  // what it carries.
  gss::CredInfo info;
  OM_uint32 lifetime = kMaxExportedCredSeconds;
  if (gss::inquire_cred(entry->cred, &info).ok()) lifetime = std::min(lifetime, info.lifetime);
  const int64_t expires = absl::ToUnixSeconds(absl::Now()) + lifetime;
  std::string token = absl::StrCat(expires, "\n");
  std::string exported;
  gss::GssStatus status = gss::export_cred(entry->cred, &exported);
  token += exported;
  explicit_bzero(exported.data(), exported.size());
  to_proto(status, reply->mutable_status());
  if (status.ok()) {
    absl::StatusOr<std::string> sealed =
        sealer()->seal(token, absl::StrCat("gssgate-cred-v2 ", export_binding(call)));
    explicit_bzero(token.data(), token.size());
    if (!sealed.ok()) {
      audit(call, "export_cred", "",
            absl::StrCat("error ", log_value(std::string(sealed.status().message()))));
      return absl::InternalError(
          absl::StrCat("could not seal the exported credentials: ", sealed.status().message()));
    }
    reply->set_token(*std::move(sealed));
  }
  audit(call, "export_cred", absl::StrCat("token_bytes=", reply->token().size()),
        status.ok() ? "ok" : absl::StrCat("gss-error ", log_value(status.message())));
  return absl::OkStatus();
}

}  // namespace gssgate::daemon
