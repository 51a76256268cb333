#include <string.h>

#include "absl/strings/numbers.h"
#include "absl/time/clock.h"
#include "daemon/handlers/common.h"
#include "lib/util/status_macros.h"

namespace gssgate::daemon {

// gss_import_cred of a token this daemon sealed with ExportCred for the same uid: a new handle of
// the caller. A token exported by another uid is refused like an altered one (DEFECTIVE_TOKEN).
absl::Status Service::ImportCred(const Call& call, const v1::ImportCredRequest& request,
                                 v1::ImportCredReply* reply) {
  GSSGATE_RETURN_IF_ERROR(
      require(call, Right::kExportCreds, "import_cred", "importing credentials"));

  if (sealer() == nullptr) return absl::UnavailableError("credential import is unavailable");
  absl::StatusOr<std::string> token =
      sealer()->open(request.token(), absl::StrCat("gssgate-cred-v2 ", export_binding(call)));
  auto refuse = [&](OM_uint32 major, std::string why) {
    gss::GssStatus status = gss::check("gss_import_cred", major, 0);
    status.minor_text = {std::move(why)};
    to_proto(status, reply->mutable_status());
    audit(call, "import_cred", absl::StrCat("token_bytes=", request.token().size()),
          absl::StrCat("gss-error ", log_value(status.message())));
    return absl::OkStatus();
  };
  if (!token.ok()) {
    return refuse(GSS_S_DEFECTIVE_TOKEN,
                  absl::StrCat(token.status().message(),
                               " (a credential token imports only for the uid and rule that "
                               "exported it)"));
  }
  const size_t newline = token->find('\n');
  int64_t expires = 0;
  if (newline == std::string::npos || !absl::SimpleAtoi(token->substr(0, newline), &expires)) {
    explicit_bzero(token->data(), token->size());
    return refuse(GSS_S_DEFECTIVE_TOKEN, "not a gssgate credential token");
  }
  if (absl::ToUnixSeconds(absl::Now()) >= expires) {
    explicit_bzero(token->data(), token->size());
    return refuse(GSS_S_CREDENTIALS_EXPIRED,
                  absl::StrCat("the credential token expired at ",
                               absl::FormatTime(absl::FromUnixSeconds(expires)),
                               "; export the credentials again"));
  }
  gss::CredHandle cred;
  gss::GssStatus status = gss::import_cred(std::string_view(*token).substr(newline + 1), &cred);
  explicit_bzero(token->data(), token->size());
  to_proto(status, reply->mutable_status());
  if (!status.ok()) return absl::OkStatus();
  // The usages the credential carries must be ones the rule grants now.
  gss::CredInfo info;
  status = gss::inquire_cred(cred, &info);
  if (!status.ok()) {
    to_proto(status, reply->mutable_status());
    return absl::OkStatus();
  }
  if (info.usage != gss::CredUsage::kAccept) {
    GSSGATE_RETURN_IF_ERROR(
        require(call, Right::kInitiate, "import_cred", "importing initiator credentials"));
  }
  if (info.usage != gss::CredUsage::kInitiate) {
    GSSGATE_RETURN_IF_ERROR(
        require(call, Right::kAccept, "import_cred", "importing acceptor credentials"));
  }
  auto entry = std::make_shared<Entry>(call.owner, HandleKind::kCred);
  entry->cred = std::move(cred);
  GSSGATE_ASSIGN_OR_RETURN(std::string handle, table().insert(entry, call.grant.max_handles()));
  reply->set_creds(handle);
  audit(call, "import_cred", absl::StrCat("token_bytes=", request.token().size()), "ok");
  return absl::OkStatus();
}

}  // namespace gssgate::daemon
