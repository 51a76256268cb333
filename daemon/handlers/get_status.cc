#include "daemon/handlers/common.h"

namespace gssgate::daemon {

// Version, uptime and load; every caller with a rule may ask. Which sockets exist, how busy they
// are and whom they serve is the administrator's business: an admin sees every listener with its
// rules, and the totals; others see the listener they came through, without its rules, and its
// counts (live_handles is the daemon's total either way: handles are not kept per socket).
absl::Status Service::GetStatus(const Call& call, const v1::GetStatusRequest&,
                                v1::GetStatusReply* reply) {
  const bool admin = call.grant.has(Right::kAdmin);
  reply->set_version(runtime().version);
  reply->set_uptime_seconds(
      static_cast<uint64_t>(absl::ToInt64Seconds(absl::Now() - runtime().started)));
  reply->set_live_handles(table().size());
  uint64_t connections = 0;
  for (const ListenerState& state :
       runtime().listeners ? runtime().listeners() : std::vector<ListenerState>()) {
    if (!admin && state.name != call.peer.listener) continue;
    connections += state.connections;
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
  reply->set_connections(connections);
  uint32_t rules = 0;
  if (admin) {
    rules = static_cast<uint32_t>(call.config->rules.size());
  } else if (const ListenerSettings* own = call.config->listener(call.peer.listener)) {
    rules = static_cast<uint32_t>(std::count(own->applies.begin(), own->applies.end(), true));
  }
  reply->set_rules(rules);
  return absl::OkStatus();
}

}  // namespace gssgate::daemon
