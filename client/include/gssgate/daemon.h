#pragma once

/// @file
/// Beyond python-gssapi: what the daemon says about itself and about the caller — the calls
/// behind the `gssgate` command (status, whoami, handles, reload).

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "gssgate/connection.h"

namespace gssgate {

/// How gssgated sees the calling process (kernel identity, matched policy rule).
struct WhoAmIResult {
  uint32_t uid = 0;
  uint32_t gid = 0;
  int32_t pid = 0;
  std::vector<uint32_t> groups;
  std::string cgroup;  ///< cgroup v2 path as the daemon read it; "" if unknown
  std::string executable;    ///< the executable as the daemon resolved it; "" if unknown
  std::string systemd_unit;  ///< the systemd unit of the cgroup; "" if none
  std::string executable_sha256;  ///< its SHA-256 (hex), if a rule matches by digest; else ""
  std::string listener;           ///< the daemon's listener the connection came through
  std::string rule;
  std::vector<std::string> grants;      ///< "initiate", "accept", "export_context", … "admin"
  std::vector<std::string> principals;  ///< empty: whatever the rule's stores hold
  std::vector<std::string> stores;      ///< "keytab=/etc/…", as expanded for this caller
  uint32_t max_handles = 0;
  uint32_t live_handles = 0;
};

/// A socket the daemon serves ([[listener]] in gssgate.conf(5)).
struct ListenerInfo {
  std::string name;
  std::string path;
  std::string transport;  ///< "grpc" or "wire"
  uint64_t connections = 0;
  bool all_rules = false;          ///< every rule applies (shown to admins only)
  std::vector<std::string> rules;  ///< the rules that apply (shown to admins only)
};

struct DaemonStatus {
  std::string version;
  uint64_t uptime_seconds = 0;
  uint64_t live_handles = 0;
  uint64_t connections = 0;
  uint32_t rules = 0;
  /// The caller's own listener, or with admin = true in its rule every listener.
  std::vector<ListenerInfo> listeners;
};

struct HandleInfo {
  std::string kind;  ///< "credential" or "context"
  uint32_t uid = 0;
  uint64_t connection = 0;
  uint64_t idle_seconds = 0;
};

/// Each throws ConnectionError when the daemon cannot be reached and PermissionDenied when policy
/// refuses (a caller no rule matches; handles(all) and reload need admin = true).
WhoAmIResult whoami(const std::shared_ptr<Connection>& connection = nullptr);
DaemonStatus daemon_status(const std::shared_ptr<Connection>& connection = nullptr);
/// The caller's own handles, or with `all` every caller's (never the handle ids).
std::vector<HandleInfo> list_handles(bool all = false,
                                     const std::shared_ptr<Connection>& connection = nullptr);
/// Re-reads the daemon's policy; the number of rules. A file that does not load throws
/// GeneralError naming file:line:column, and the old rules stay.
uint32_t reload_policy(const std::shared_ptr<Connection>& connection = nullptr);
/// The daemon's metrics in the Prometheus text format (needs admin = true).
std::string metrics_text(const std::shared_ptr<Connection>& connection = nullptr);

}  // namespace gssgate
