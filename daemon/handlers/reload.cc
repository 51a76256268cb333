#include "daemon/handlers/common.h"

namespace gssgate::daemon {

// Re-reads the policy (as SIGHUP does), for an admin caller.
absl::Status Service::Reload(const Call& call, const v1::ReloadRequest&, v1::ReloadReply* reply) {
  if (!call.rule->admin) {
    audit(call, "reload", "reason=\"rule does not grant admin\"", "denied");
    return absl::PermissionDeniedError(
        absl::StrCat("reloading the policy needs admin = true; policy rule \"", call.rule->name,
                     "\" does not grant it to uid ", call.peer.uid));
  }
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
