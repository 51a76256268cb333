#include "daemon/handlers/common.h"
#include "lib/util/status_macros.h"

namespace gssgate::daemon {

// The Prometheus text of the daemon's metrics, for an admin caller.
absl::Status Service::GetMetrics(const Call& call, const v1::GetMetricsRequest&,
                                 v1::GetMetricsReply* reply) {
  GSSGATE_RETURN_IF_ERROR(require(call, Right::kAdmin, "metrics", "reading the metrics"));

  if (!runtime().metrics) return absl::UnavailableError("this daemon keeps no metrics");
  reply->set_text(runtime().metrics());
  return absl::OkStatus();
}

}  // namespace gssgate::daemon
