#include "daemon/handlers/common.h"

namespace gssgate::daemon {

// Version, uptime and load; every caller with a rule may ask (the counts are totals, no one's
// details), and the listeners.
absl::Status Service::GetStatus(const Call& call, const v1::GetStatusRequest&,
                                v1::GetStatusReply* reply) {
  reply->set_version(runtime().version);
  reply->set_uptime_seconds(
      static_cast<uint64_t>(absl::ToInt64Seconds(absl::Now() - runtime().started)));
  reply->set_live_handles(table().size());
  reply->set_connections(runtime().connections ? runtime().connections() : 0);
  reply->set_rules(static_cast<uint32_t>(call.config->rules.size()));
  // Which sockets exist and whom they serve is the administrator's business: others see the one
  // they came through, without its rules.
  const bool admin = call.grant.has(Right::kAdmin);
  for (const ListenerState& state :
       runtime().listeners ? runtime().listeners() : std::vector<ListenerState>()) {
    if (!admin && state.name != call.peer.listener) continue;
    v1::ListenerStatus* out = reply->add_listeners();
    out->set_name(state.name);
    out->set_path(state.path);
    out->set_transport(transport_name(state.transport));
    out->set_connections(state.connections);
    const ListenerSettings* settings = admin ? call.config->listener(state.name) : nullptr;
    if (settings != nullptr) {
      out->set_all_rules(settings->all_rules);
      for (const std::string& rule : settings->rules) out->add_rules(rule);
    }
  }
  return absl::OkStatus();
}

}  // namespace gssgate::daemon
