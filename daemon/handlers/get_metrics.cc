#include "daemon/handlers/common.h"

namespace gssgate::daemon {

// The Prometheus text of the daemon's metrics, for an admin caller.
absl::Status Service::GetMetrics(const Call& call, const v1::GetMetricsRequest&,
                                 v1::GetMetricsReply* reply) {
  if (!call.rule->admin) {
    audit(call, "metrics", "reason=\"rule does not grant admin\"", "denied");
    return absl::PermissionDeniedError(absl::StrCat("metrics need admin = true; policy rule \"",
                                                    call.rule->name, "\" does not grant it to uid ",
                                                    call.peer.uid));
  }
  if (!runtime().metrics) return absl::UnavailableError("this daemon keeps no metrics");
  reply->set_text(runtime().metrics());
  return absl::OkStatus();
}

}  // namespace gssgate::daemon
