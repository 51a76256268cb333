#include "daemon/handlers/common.h"
#include "daemon/policy.h"

namespace gssgate::daemon {

// How the daemon sees the caller: kernel identity, matched rule, what it grants.
absl::Status Service::WhoAmI(const Call& call, const v1::WhoAmIRequest&, v1::WhoAmIReply* reply) {
  const Rule& rule = call.grant.rule();
  reply->set_uid(call.peer.uid);
  reply->set_gid(call.peer.gid);
  reply->set_pid(call.peer.pid);
  for (gid_t g : call.peer.groups) reply->add_groups(g);
  reply->set_cgroup(call.peer.cgroup);
  reply->set_executable(call.peer.exe);
  reply->set_systemd_unit(systemd_unit_of(call.peer.cgroup));
  reply->set_executable_sha256(call.peer.exe_sha256);
  reply->set_listener(call.peer.listener);
  reply->set_rule(rule.name);
  for (Right right : kAllRights) {
    if (grants(rule, right)) reply->add_grants(right_name(right));
  }
  for (const std::string& p : rule.principals) reply->add_principals(p);
  auto add_store = [&](Store store) {
    const auto& value = call.grant.store(store);
    if (!value) return;
    reply->add_stores(absl::StrCat(store_key(store), "=",
                                   value->ok() ? **value : value->status().message()));
  };
  add_store(Store::kKeytab);
  add_store(Store::kClientKeytab);
  if (rule.ccache) {
    add_store(Store::kCcache);
  } else if (rule.allow_initiate) {
    reply->add_stores(absl::StrCat("ccache=MEMORY:gssgate-", call.peer.uid, "-", rule.name,
                                   "[-PRINCIPAL] (in the daemon)"));
  }
  reply->set_max_handles(rule.max_handles);
  reply->set_live_handles(static_cast<uint32_t>(table().count_for_uid(call.peer.uid)));
  return absl::OkStatus();
}

}  // namespace gssgate::daemon
