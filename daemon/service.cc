#include "daemon/service.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "daemon/log_format.h"
#include "daemon/policy.h"
#include "spdlog/spdlog.h"

namespace gssgate::daemon {

Service::Service(std::shared_ptr<const Config> config, HandleTable* table)
    : config_(std::move(config)), table_(table) {
  auto sealer = gss::Sealer::create();
  if (sealer.ok()) {
    sealer_ = std::move(*sealer);
  } else {
    spdlog::error("no key for sealing exported credentials ({}); ExportCred will fail",
                  std::string(sealer.status().message()));
  }
}

void Service::set_config(std::shared_ptr<const Config> config) {
  {
    absl::MutexLock lock(&mu_);
    config_ = std::move(config);
  }
  // Cached credentials were acquired under the old rules.
  cred_cache_.clear();
}

std::shared_ptr<const Config> Service::config() const {
  absl::MutexLock lock(&mu_);
  return config_;
}

absl::StatusOr<Call> Service::begin(const Peer& peer, const char* rpc) const {
  std::shared_ptr<const Config> config = this->config();
  const RuleMatch match = match_rule(*config, peer);
  const Rule* rule = match.rule;
  if (rule == nullptr) {
    // WhoAmI grants nothing and its refusal tells nothing; the interposer module asks it in every
    // program that loads it without an opt-in of its own (is this program opted in by policy?),
    // so its refusals are debug lines, not one warning per GSSAPI program on the host.
    spdlog::log(std::string_view(rpc) == "WhoAmI" ? spdlog::level::debug : spdlog::level::warn,
                "audit op={} uid={} gid={} pid={} cgroup={} exe={} listener={} outcome=denied "
                "reason=\"no policy rule\"{}",
                rpc, peer.uid, peer.gid, peer.pid, log_value(peer.cgroup), log_value(peer.exe),
                log_value(peer.listener),
                match.why_not.empty() ? "" : absl::StrCat(" why=", log_value(match.why_not)));
    const ListenerSettings* listener = config->listener(peer.listener);
    const std::string who =
        absl::StrCat("uid ", peer.uid, " (gid ", peer.gid,
                     peer.cgroup.empty() ? "" : absl::StrCat(", cgroup ", peer.cgroup),
                     peer.exe.empty() ? "" : absl::StrCat(", executable ", peer.exe), ")");
    if (listener == nullptr) {
      return absl::PermissionDeniedError(
          absl::StrCat("no policy rule for ", who, ": it connected through listener \"",
                       peer.listener, "\", which ", config->path,
                       " no longer has after a reload; restart gssgated to "
                       "apply removed listeners, or put the listener back"));
    }
    return absl::PermissionDeniedError(
        absl::StrCat("no policy rule for ", who, " on listener \"", listener->name, "\" (",
                     listener->path, ") in ", config->path,
                     match.why_not.empty()
                         ? ""
                         : absl::StrCat("; rules that select by process cannot match this caller: ",
                                        match.why_not),
                     "; an administrator must add a [[rule]] for this caller",
                     listener->all_rules ? "" : " and name it in the listener's rules"));
  }
  return Call{peer,
              std::move(config),
              Grant(*rule, peer.uid),
              Owner{peer.uid, peer.connection},
              sealer_.get(),
              &stored_ccaches_};
}

void StoredCcaches::note(const std::string& ccache) {
  if (!absl::StartsWith(ccache, "MEMORY:")) return;
  absl::MutexLock lock(&mu_);
  ccaches_.insert(ccache);
}

bool StoredCcaches::contains(const std::string& ccache) const {
  absl::MutexLock lock(&mu_);
  return ccaches_.contains(ccache);
}

absl::StatusOr<int> Service::release_deferred(const Peer& peer, const v1::Releases& releases) {
  if (releases.contexts_size() + releases.creds_size() > kMaxReleasesPerCall) {
    return absl::InvalidArgumentError(
        absl::StrCat("a call carries ", releases.contexts_size() + releases.creds_size(),
                     " handles to release; at most ", kMaxReleasesPerCall,
                     " (release the rest with DeleteSecContext and ReleaseCred)"));
  }
  // Handles belong to the connection that made them (HandleTable::erase checks the owner).
  const Owner owner{peer.uid, peer.connection};
  int released = 0;
  for (const std::string& handle : releases.contexts()) {
    released += table_->erase(owner, handle, HandleKind::kContext).ok();
  }
  for (const std::string& handle : releases.creds()) {
    released += table_->erase(owner, handle, HandleKind::kCred).ok();
  }
  return released;
}

void Service::remember_exported_context(uid_t uid, const std::string& binding,
                                        const std::string& mac) {
  absl::MutexLock lock(&exported_mu_);
  ExportedSlots& slots = exported_[uid];
  // Tokens already imported again left the map but not the queue: drop them from its front, so
  // the queue stays about as long as the map (the soak caught it growing by every export).
  while (!slots.order.empty() && !slots.binding_by_mac.contains(slots.order.front())) {
    slots.order.pop_front();
  }
  if (slots.binding_by_mac.insert_or_assign(mac, binding).second) slots.order.push_back(mac);
  while (slots.order.size() > kMaxExportedTokensPerUid) {
    slots.binding_by_mac.erase(slots.order.front());
    slots.order.pop_front();
  }
}

bool Service::take_exported_context(uid_t uid, const std::string& binding, const std::string& mac) {
  absl::MutexLock lock(&exported_mu_);
  auto slots = exported_.find(uid);
  if (slots == exported_.end()) return false;
  auto it = slots->second.binding_by_mac.find(mac);
  if (it == slots->second.binding_by_mac.end() || it->second != binding) return false;
  slots->second.binding_by_mac.erase(it);  // its place in `order` goes when it reaches the front
  if (slots->second.binding_by_mac.empty()) exported_.erase(slots);
  return true;
}

}  // namespace gssgate::daemon
