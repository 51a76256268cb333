#include "daemon/handlers/common.h"

namespace gssgate::daemon {

// Version, uptime and load; every caller with a rule may ask (the counts are totals, no one's
// details).
absl::Status Service::GetStatus(const Call& call, const v1::GetStatusRequest&,
                                v1::GetStatusReply* reply) {
  reply->set_version(runtime().version);
  reply->set_uptime_seconds(
      static_cast<uint64_t>(absl::ToInt64Seconds(absl::Now() - runtime().started)));
  reply->set_live_handles(table().size());
  reply->set_connections(runtime().connections ? runtime().connections() : 0);
  reply->set_rules(static_cast<uint32_t>(call.config->rules.size()));
  return absl::OkStatus();
}

}  // namespace gssgate::daemon
