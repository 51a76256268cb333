#include "daemon/handlers/common.h"
#include "lib/util/status_macros.h"

namespace gssgate::daemon {

// Re-reads the policy (as SIGHUP does), for an admin caller.
absl::Status Service::Reload(const Call& call, const v1::ReloadRequest&, v1::ReloadReply* reply) {
  GSSGATE_RETURN_IF_ERROR(require(call, Right::kAdmin, "reload", "reloading the policy"));

  if (!runtime().reload) return absl::UnavailableError("this daemon cannot reload");
  absl::StatusOr<size_t> rules = runtime().reload();
  if (!rules.ok()) {
    audit(call, "reload", "", "failed");
    return absl::FailedPreconditionError(
        absl::StrCat("reload failed, the current rules stay: ", rules.status().message()));
  }
  audit(call, "reload", absl::StrCat("rules=", *rules), "ok");
  reply->set_rules(static_cast<uint32_t>(*rules));
  return absl::OkStatus();
}

}  // namespace gssgate::daemon
