#include "daemon/config.h"

#include <fnmatch.h>
#include <grp.h>
#include <pwd.h>
#include <toml++/toml.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "spdlog/spdlog.h"

namespace gssgate::daemon {
namespace {

// Errors point at the offending line, as an editor would.
absl::Status error_at(const std::string& source, const toml::source_region& where,
                      const std::string& why) {
  return absl::InvalidArgumentError(
      absl::StrCat(source, ":", where.begin.line, ":", where.begin.column, ": ", why));
}

class TableReader {
 public:
  TableReader(const toml::table& table, std::string source, std::string what)
      : table_(table), source_(std::move(source)), what_(std::move(what)) {}

  absl::Status check_known(std::initializer_list<const char*> keys) const {
    std::set<std::string> known(keys.begin(), keys.end());
    for (const auto& [key, node] : table_) {
      if (!known.contains(std::string(key.str()))) {
        return error_at(source_, key.source(),
                        absl::StrCat("unknown key \"", std::string(key.str()), "\" in ", what_,
                                     " (known: ", absl::StrJoin(known, ", "), ")"));
      }
    }
    return absl::OkStatus();
  }

  absl::Status string(const char* key, std::optional<std::string>* out) const {
    const toml::node* node = table_.get(key);
    if (node == nullptr) return absl::OkStatus();
    if (!node->is_string()) return type_error(key, *node, "a string");
    *out = std::string(**node->as_string());
    return absl::OkStatus();
  }

  absl::Status integer(const char* key, int64_t min, int64_t max, int64_t* out) const {
    const toml::node* node = table_.get(key);
    if (node == nullptr) return absl::OkStatus();
    if (!node->is_integer()) return type_error(key, *node, "an integer");
    int64_t v = **node->as_integer();
    if (v < min || v > max) {
      return error_at(source_, node->source(),
                      absl::StrCat(key, " = ", v, " is out of range [", min, ", ", max, "]"));
    }
    *out = v;
    return absl::OkStatus();
  }

  absl::Status boolean(const char* key, bool* out) const {
    const toml::node* node = table_.get(key);
    if (node == nullptr) return absl::OkStatus();
    if (!node->is_boolean()) return type_error(key, *node, "true or false");
    *out = **node->as_boolean();
    return absl::OkStatus();
  }

  // An array of strings or of integers; each element is passed to `each` with its source.
  template <typename F>
  absl::Status array(const char* key, F each) const {
    const toml::node* node = table_.get(key);
    if (node == nullptr) return absl::OkStatus();
    const toml::array* arr = node->as_array();
    if (arr == nullptr) return type_error(key, *node, "an array");
    for (const toml::node& element : *arr) {
      absl::Status s = each(element);
      if (!s.ok()) return s;
    }
    return absl::OkStatus();
  }

  const std::string& source() const { return source_; }
  const toml::node* node(const char* key) const { return table_.get(key); }

 private:
  absl::Status type_error(const char* key, const toml::node& node, const char* want) const {
    return error_at(source_, node.source(), absl::StrCat(key, " in ", what_, " must be ", want));
  }

  const toml::table& table_;
  std::string source_;
  std::string what_;
};

absl::StatusOr<uid_t> resolve_user(const std::string& name) {
  std::vector<char> buf(16384);
  passwd pw{};
  passwd* result = nullptr;
  if (getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &result) != 0 || result == nullptr) {
    return absl::NotFoundError(absl::StrCat("no such user \"", name, "\""));
  }
  return pw.pw_uid;
}

absl::StatusOr<gid_t> resolve_group(const std::string& name) {
  std::vector<char> buf(65536);
  group gr{};
  group* result = nullptr;
  if (getgrnam_r(name.c_str(), &gr, buf.data(), buf.size(), &result) != 0 || result == nullptr) {
    return absl::NotFoundError(absl::StrCat("no such group \"", name, "\""));
  }
  return gr.gr_gid;
}

// A socket's mode (an octal string) and group (a name), from `mode_key` and `group_key`.
absl::Status socket_access(const TableReader& r, const char* mode_key, const char* group_key,
                           mode_t* mode_out, std::optional<gid_t>* group_out) {
  std::optional<std::string> mode, group;
  absl::Status s = r.string(mode_key, &mode);
  if (!s.ok()) return s;
  if (mode) {
    char* end = nullptr;
    unsigned long v = std::strtoul(mode->c_str(), &end, 8);
    if (mode->empty() || *end != '\0' || v > 0777) {
      return error_at(r.source(), r.node(mode_key)->source(),
                      absl::StrCat(mode_key, " must be an octal string such as \"0660\""));
    }
    *mode_out = static_cast<mode_t>(v);
  }
  if (!(s = r.string(group_key, &group)).ok()) return s;
  if (group) {
    auto gid = resolve_group(*group);
    if (!gid.ok()) {
      return error_at(r.source(), r.node(group_key)->source(), std::string(gid.status().message()));
    }
    *group_out = *gid;
  }
  return absl::OkStatus();
}

absl::Status connection_limits(const TableReader& r, int* max_connections, int* per_uid) {
  int64_t v = *max_connections;
  absl::Status s = r.integer("max_connections", 1, 1 << 20, &v);
  if (!s.ok()) return s;
  *max_connections = static_cast<int>(v);
  v = *per_uid;
  if (!(s = r.integer("max_connections_per_uid", 1, 1 << 20, &v)).ok()) return s;
  *per_uid = static_cast<int>(v);
  return absl::OkStatus();
}

absl::Status parse_daemon(const toml::table& table, const std::string& source,
                          DaemonSettings* out) {
  TableReader r(table, source, "[daemon]");
  absl::Status s =
      r.check_known({"socket", "wire_socket", "socket_mode", "socket_group", "max_connections",
                     "max_connections_per_uid", "first_call_timeout", "max_message_bytes",
                     "idle_timeout", "workers", "max_handles_total", "max_threads",
                     "max_streams_per_connection", "idle_connection_timeout", "replay_cache"});
  if (!s.ok()) return s;
  std::optional<std::string> replay_cache;
  if (!(s = r.string("replay_cache", &replay_cache)).ok()) return s;
  if (replay_cache) {
    if (*replay_cache == "gssgated") {
      out->replay_cache = DaemonSettings::ReplayCacheKind::kGssgated;
    } else if (*replay_cache == "mit") {
      out->replay_cache = DaemonSettings::ReplayCacheKind::kMit;
    } else {
      return error_at(
          source, table.get("replay_cache")->source(),
          absl::StrCat("replay_cache is \"gssgated\" or \"mit\", not \"", *replay_cache, "\""));
    }
  }
  std::optional<std::string> socket;
  if (!(s = r.string("socket", &socket)).ok()) return s;
  if (socket) {
    if (socket->empty() || (*socket)[0] != '/') {
      return error_at(source, table.get("socket")->source(), "socket must be an absolute path");
    }
    out->socket_path = *socket;
  }
  std::optional<std::string> wire_socket;
  if (!(s = r.string("wire_socket", &wire_socket)).ok()) return s;
  if (wire_socket) {
    if (!wire_socket->empty() && (*wire_socket)[0] != '/') {
      return error_at(source, table.get("wire_socket")->source(),
                      "wire_socket must be an absolute path, or \"\" for no wire socket");
    }
    out->wire_socket_path = *wire_socket;
  } else {
    // Beside the gRPC socket, so daemons with sockets of their own never share one.
    absl::string_view base(out->socket_path);
    absl::ConsumeSuffix(&base, ".sock");
    out->wire_socket_path = absl::StrCat(base, ".wire");
  }
  if (!out->wire_socket_path.empty() && out->wire_socket_path == out->socket_path) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": [daemon] socket and wire_socket are both ", out->socket_path,
                     "; give the wire socket a path of its own (or \"\" for none)"));
  }
  if (!(s = socket_access(r, "socket_mode", "socket_group", &out->socket_mode, &out->socket_group))
           .ok()) {
    return s;
  }
  if (!(s = connection_limits(r, &out->max_connections, &out->max_connections_per_uid)).ok()) {
    return s;
  }
  int64_t v = out->first_call_timeout_seconds;
  if (!(s = r.integer("first_call_timeout", 1, 86400, &v)).ok()) return s;
  out->first_call_timeout_seconds = static_cast<int>(v);
  v = out->max_message_bytes;
  if (!(s = r.integer("max_message_bytes", 1024, 64 << 20, &v)).ok()) return s;
  out->max_message_bytes = static_cast<int>(v);
  v = out->idle_timeout_seconds;
  if (!(s = r.integer("idle_timeout", 1, 30 * 86400, &v)).ok()) return s;
  out->idle_timeout_seconds = static_cast<int>(v);
  v = out->max_handles_total;
  if (!(s = r.integer("max_handles_total", 1, 100'000'000, &v)).ok()) return s;
  out->max_handles_total = v;
  v = out->workers;
  if (!(s = r.integer("workers", 0, 1024, &v)).ok()) return s;
  out->workers = static_cast<int>(v);
  v = out->max_threads;
  if (!(s = r.integer("max_threads", 4, 65536, &v)).ok()) return s;
  out->max_threads = static_cast<int>(v);
  v = out->max_streams_per_connection;
  if (!(s = r.integer("max_streams_per_connection", 1, 4096, &v)).ok()) return s;
  out->max_streams_per_connection = static_cast<int>(v);
  v = out->idle_connection_timeout_seconds;
  if (!(s = r.integer("idle_connection_timeout", 0, 30 * 86400, &v)).ok()) return s;
  if (v != 0 && v < 10) {
    return error_at(source, table.get("idle_connection_timeout")->source(),
                    "idle_connection_timeout is 0 (never) or at least 10 seconds");
  }
  out->idle_connection_timeout_seconds = static_cast<int>(v);
  return absl::OkStatus();
}

// The mechanism names the policy file knows.
struct NamedMech {
  const char* name;
  const gss::Oid& (*oid)();
};
constexpr NamedMech kNamedMechs[] = {
    {"krb5", gss::oids::krb5},       {"krb5_old", gss::oids::krb5_old},
    {"krb5_ms", gss::oids::krb5_ms}, {"iakerb", gss::oids::iakerb},
    {"spnego", gss::oids::spnego},
};

std::optional<gss::Oid> mech_from_name(std::string_view text) {
  for (const NamedMech& m : kNamedMechs) {
    if (text == m.name) return m.oid();
  }
  absl::StatusOr<gss::Oid> dotted = gss::Oid::from_dotted(text);
  if (dotted.ok()) return *std::move(dotted);
  return std::nullopt;
}

absl::Status parse_rule(const toml::table& table, const std::string& source, int index,
                        Rule* rule) {
  rule->line = static_cast<int>(table.source().begin.line);
  TableReader r(table, source, absl::StrCat("[[rule]] #", index + 1));
  // clang-format off
  absl::Status s = r.check_known({"name", "uids", "users", "gids", "groups", "keytab",
                                  "client_keytab", "ccache", "usages", "principals", "cgroups",
                                  "systemd_units", "executables", "executable_sha256",
                                  "export_context", "export_creds", "store_creds", "delegate",
                                  "accept_delegated", "admin", "impersonate",
                                  "impersonate_principals", "interpose", "max_handles",
                                  "mechs"});
  // clang-format on
  if (!s.ok()) return s;
  std::optional<std::string> name;
  if (!(s = r.string("name", &name)).ok()) return s;
  rule->name = name.value_or(absl::StrCat("rule-", index + 1));
  rule->named = name.has_value();

  auto ids = [&](const char* key, auto* out) {
    return r.array(key, [&](const toml::node& n) {
      if (!n.is_integer() || **n.as_integer() < 0 || **n.as_integer() > 0xfffffffe) {
        return error_at(source, n.source(), absl::StrCat(key, " takes non-negative integers"));
      }
      out->push_back(static_cast<uint32_t>(**n.as_integer()));
      return absl::OkStatus();
    });
  };
  if (!(s = ids("uids", &rule->uids)).ok()) return s;
  if (!(s = ids("gids", &rule->gids)).ok()) return s;
  auto names = [&](const char* key, auto resolve, auto* ids_out,
                   std::vector<std::string>* names_out) {
    return r.array(key, [&](const toml::node& n) {
      if (!n.is_string()) return error_at(source, n.source(), absl::StrCat(key, " takes strings"));
      std::string value(**n.as_string());
      auto id = resolve(value);
      if (!id.ok()) return error_at(source, n.source(), std::string(id.status().message()));
      ids_out->push_back(*id);
      names_out->push_back(value);
      return absl::OkStatus();
    });
  };
  if (!(s = names("users", resolve_user, &rule->uids, &rule->users)).ok()) return s;
  if (!(s = names("groups", resolve_group, &rule->gids, &rule->groups)).ok()) return s;
  s = r.array("cgroups", [&](const toml::node& n) {
    if (!n.is_string() || (**n.as_string()).empty() || (**n.as_string())[0] != '/') {
      return error_at(source, n.source(),
                      "cgroups takes cgroup v2 path patterns starting with / "
                      "(e.g. \"/system.slice/docker-*.scope\")");
    }
    rule->cgroups.emplace_back(**n.as_string());
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  auto strings = [&](const char* key, auto valid, const char* what, std::vector<std::string>* out) {
    return r.array(key, [&](const toml::node& n) {
      if (!n.is_string() || !valid(std::string(**n.as_string()))) {
        return error_at(source, n.source(), absl::StrCat(key, " takes ", what));
      }
      out->emplace_back(**n.as_string());
      return absl::OkStatus();
    });
  };
  s = strings(
      "systemd_units",
      [](const std::string& v) { return !v.empty() && v[0] != '/' && v.find("//") == v.npos; },
      "systemd unit names or patterns, as systemd names them (e.g. \"apache2.service\", "
      "\"user@1000.service/app.slice/*\")",
      &rule->systemd_units);
  if (!s.ok()) return s;
  s = strings(
      "executables", [](const std::string& v) { return !v.empty() && v[0] == '/'; },
      "absolute paths or path patterns of executables (e.g. \"/usr/sbin/apache2\")",
      &rule->executables);
  if (!s.ok()) return s;
  s = strings(
      "executable_sha256",
      [](const std::string& v) {
        return v.size() == 64 && std::all_of(v.begin(), v.end(), [](char c) {
                 return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
               });
      },
      "SHA-256 digests as 64 hex digits (sha256sum prints them)", &rule->executable_sha256);
  if (!s.ok()) return s;
  for (std::string& digest : rule->executable_sha256) digest = absl::AsciiStrToLower(digest);
  if (rule->uids.empty() && rule->gids.empty() && rule->cgroups.empty() &&
      rule->systemd_units.empty() && rule->executables.empty() && rule->executable_sha256.empty()) {
    return error_at(source, table.source(),
                    absl::StrCat("rule \"", rule->name,
                                 "\" matches nobody: give uids, users, gids, groups, cgroups, "
                                 "systemd_units, executables or executable_sha256"));
  }

  for (const char* key : {"keytab", "client_keytab", "ccache"}) {
    std::optional<std::string> value;
    if (!(s = r.string(key, &value)).ok()) return s;
    if (!value) continue;
    auto expanded = expand_template(*value, 0);
    if (!expanded.ok() && expanded.status().code() == absl::StatusCode::kInvalidArgument) {
      return error_at(source, table.get(key)->source(), std::string(expanded.status().message()));
    }
    if (std::string_view(key) == "keytab") rule->keytab = value;
    if (std::string_view(key) == "client_keytab") rule->client_keytab = value;
    if (std::string_view(key) == "ccache") rule->ccache = value;
  }

  bool any_usage = false;
  s = r.array("usages", [&](const toml::node& n) {
    std::string v = n.is_string() ? std::string(**n.as_string()) : "";
    if (v == "initiate") {
      rule->allow_initiate = true;
    } else if (v == "accept") {
      rule->allow_accept = true;
    } else {
      return error_at(source, n.source(), "usages takes \"initiate\" and/or \"accept\"");
    }
    any_usage = true;
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  if (!any_usage) {
    return error_at(source, table.source(),
                    absl::StrCat("rule \"", rule->name,
                                 "\" grants no usage: set usages = [\"initiate\", \"accept\"]"));
  }
  if (rule->allow_accept && !rule->keytab) {
    return error_at(source, table.source(),
                    absl::StrCat("rule \"", rule->name, "\" grants accept but names no keytab"));
  }
  if (rule->allow_initiate && !rule->client_keytab && !rule->ccache) {
    return error_at(source, table.source(),
                    absl::StrCat("rule \"", rule->name,
                                 "\" grants initiate but names no client_keytab or ccache"));
  }
  if (table.contains("mechs")) {
    rule->mechs.clear();
    s = r.array("mechs", [&](const toml::node& n) {
      std::optional<gss::Oid> mech =
          n.is_string() ? mech_from_name(**n.as_string()) : std::optional<gss::Oid>();
      if (!mech) {
        return error_at(source, n.source(),
                        "mechs takes krb5, krb5_old, krb5_ms, iakerb, spnego or dotted OIDs");
      }
      if (!mech_allowed(*rule, *mech)) rule->mechs.push_back(*std::move(mech));
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    if (rule->mechs.empty()) {
      return error_at(source, table.get("mechs")->source(),
                      absl::StrCat("rule \"", rule->name, "\" allows no mechanism"));
    }
    if (rule->mechs == std::vector<gss::Oid>{gss::oids::spnego()}) {
      return error_at(
          source, table.get("mechs")->source(),
          absl::StrCat("rule \"", rule->name,
                       "\" allows SPNEGO but no mechanism for it to negotiate: add krb5"));
    }
  }
  s = r.array("principals", [&](const toml::node& n) {
    if (!n.is_string()) return error_at(source, n.source(), "principals takes strings");
    rule->principals.emplace_back(**n.as_string());
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  if (!(s = r.boolean("export_context", &rule->allow_export_context)).ok()) return s;
  if (!(s = r.boolean("export_creds", &rule->allow_export_creds)).ok()) return s;
  if (!(s = r.boolean("store_creds", &rule->allow_store_creds)).ok()) return s;
  if (!(s = r.boolean("delegate", &rule->allow_delegate)).ok()) return s;
  if (!(s = r.boolean("accept_delegated", &rule->allow_accept_delegated)).ok()) return s;
  if (!(s = r.boolean("admin", &rule->admin)).ok()) return s;
  if (!(s = r.boolean("impersonate", &rule->allow_impersonate)).ok()) return s;
  if (!(s = r.boolean("interpose", &rule->interpose)).ok()) return s;
  s = r.array("impersonate_principals", [&](const toml::node& n) {
    if (!n.is_string()) return error_at(source, n.source(), "impersonate_principals takes strings");
    rule->impersonate_principals.emplace_back(**n.as_string());
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  int64_t max_handles = rule->max_handles;
  if (!(s = r.integer("max_handles", 1, 10'000'000, &max_handles)).ok()) return s;
  rule->max_handles = static_cast<uint32_t>(max_handles);
  return absl::OkStatus();
}

// systemd's FileDescriptorName= takes more, but a name is also written in logs and status lines.
bool valid_listener_name(const std::string& name) {
  return !name.empty() && name.size() <= 255 && std::all_of(name.begin(), name.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
  });
}

absl::Status parse_listener(const toml::table& table, const std::string& source, int index,
                            const DaemonSettings& defaults, ListenerSettings* out) {
  out->line = static_cast<int>(table.source().begin.line);
  TableReader r(table, source, absl::StrCat("[[listener]] #", index + 1));
  absl::Status s = r.check_known({"name", "path", "transport", "mode", "group", "max_connections",
                                  "max_connections_per_uid", "rules"});
  if (!s.ok()) return s;
  std::optional<std::string> name, path, transport;
  if (!(s = r.string("name", &name)).ok()) return s;
  if (!name || !valid_listener_name(*name)) {
    return error_at(source, name ? r.node("name")->source() : table.source(),
                    "a [[listener]] needs a name of letters, digits, _, . and - (systemd's "
                    "FileDescriptorName= of its socket, e.g. name = \"containers\")");
  }
  out->name = *name;
  if (!(s = r.string("path", &path)).ok()) return s;
  if (!path || path->empty() || (*path)[0] != '/') {
    return error_at(source, path ? r.node("path")->source() : table.source(),
                    absl::StrCat("listener \"", out->name, "\" needs an absolute path"));
  }
  out->path = *path;
  if (!(s = r.string("transport", &transport)).ok()) return s;
  if (transport && *transport != "grpc" && *transport != "wire") {
    return error_at(source, r.node("transport")->source(),
                    "transport is \"grpc\" (a stream socket) or \"wire\" (SOCK_SEQPACKET, "
                    "docs/wire.md)");
  }
  out->transport = transport && *transport == "wire" ? ListenerSettings::Transport::kWire
                                                     : ListenerSettings::Transport::kGrpc;
  out->mode = defaults.socket_mode;
  out->group = defaults.socket_group;
  if (!(s = socket_access(r, "mode", "group", &out->mode, &out->group)).ok()) return s;
  out->max_connections = defaults.max_connections;
  out->max_connections_per_uid = defaults.max_connections_per_uid;
  if (!(s = connection_limits(r, &out->max_connections, &out->max_connections_per_uid)).ok()) {
    return s;
  }
  if (table.contains("rules")) {
    out->all_rules = false;
    s = r.array("rules", [&](const toml::node& n) {
      if (!n.is_string()) return error_at(source, n.source(), "rules takes rule names");
      out->rules.emplace_back(**n.as_string());
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

// Without [[listener]] sections: [daemon]'s sockets, as before there were listeners.
void listeners_from_daemon(Config* config) {
  const DaemonSettings& d = config->daemon;
  auto add = [&](const char* name, const std::string& path, ListenerSettings::Transport t) {
    ListenerSettings l;
    l.name = name;
    l.path = path;
    l.transport = t;
    l.mode = d.socket_mode;
    l.group = d.socket_group;
    l.max_connections = d.max_connections;
    l.max_connections_per_uid = d.max_connections_per_uid;
    config->listeners.push_back(std::move(l));
  };
  add("grpc", d.socket_path, ListenerSettings::Transport::kGrpc);
  if (!d.wire_socket_path.empty()) {
    add("wire", d.wire_socket_path, ListenerSettings::Transport::kWire);
  }
}

// Names each listener's rules by index; every name must be a rule, every rule some listener's.
absl::Status resolve_listener_rules(const std::string& source, Config* config) {
  std::vector<bool> served(config->rules.size(), false);
  for (ListenerSettings& l : config->listeners) {
    l.applies.assign(config->rules.size(), l.all_rules);
    for (const std::string& name : l.rules) {
      auto it = std::find_if(config->rules.begin(), config->rules.end(),
                             [&](const Rule& rule) { return rule.name == name; });
      if (it == config->rules.end()) {
        std::vector<std::string> names;
        for (const Rule& rule : config->rules) names.push_back(rule.name);
        return absl::InvalidArgumentError(
            absl::StrCat(source, ":", l.line, ": listener \"", l.name, "\" names rule \"", name,
                         "\", which is not in the file (its rules: ",
                         names.empty() ? "none" : absl::StrJoin(names, ", "), ")"));
      }
      if (!it->named) {
        return absl::InvalidArgumentError(
            absl::StrCat(source, ":", l.line, ": listener \"", l.name, "\" names \"", name,
                         "\", the rule at line ", it->line,
                         " by its position; give that rule a name = of its "
                         "own (names by position change when rules are added)"));
      }
      const size_t index = static_cast<size_t>(it - config->rules.begin());
      if (l.applies[index]) {
        return absl::InvalidArgumentError(absl::StrCat(source, ":", l.line, ": listener \"", l.name,
                                                       "\" names rule \"", name, "\" twice"));
      }
      l.applies[index] = true;
    }
    for (size_t i = 0; i < served.size(); ++i) served[i] = served[i] || l.applies[i];
  }
  for (size_t i = 0; i < served.size(); ++i) {
    if (served[i]) continue;
    const Rule& rule = config->rules[i];
    return absl::InvalidArgumentError(
        absl::StrCat(source, ":", rule.line, ": rule \"", rule.name,
                     "\" applies on no listener: name it in the rules of a [[listener]]"));
  }
  return absl::OkStatus();
}

std::string join_ids(const std::vector<uint32_t>& ids) { return absl::StrJoin(ids, ", "); }

}  // namespace

absl::StatusOr<Config> parse_config(const std::string& text, const std::string& source) {
  toml::table root;
  try {
    root = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    return error_at(source, e.source(), std::string(e.description()));
  }
  Config config;
  config.path = source;
  TableReader top(root, source, "the top level");
  absl::Status s = top.check_known({"daemon", "rule", "listener"});
  if (!s.ok()) return s;
  const toml::node* listeners = root.get("listener");
  if (const toml::node* d = root.get("daemon")) {
    if (!d->is_table()) return error_at(source, d->source(), "[daemon] must be a table");
    if (!(s = parse_daemon(*d->as_table(), source, &config.daemon)).ok()) return s;
    for (const char* key : {"socket", "wire_socket"}) {
      const toml::node* given = d->as_table()->get(key);
      if (listeners != nullptr && given != nullptr) {
        return error_at(source, given->source(),
                        absl::StrCat("[daemon] ", key,
                                     " and [[listener]] sections exclude each "
                                     "other: give this socket a [[listener]] of its own"));
      }
    }
  }
  if (const toml::node* rules = root.get("rule")) {
    const toml::array* arr = rules->as_array();
    if (arr == nullptr || !arr->is_array_of_tables()) {
      return error_at(source, rules->source(), "rules are written as [[rule]] tables");
    }
    int index = 0;
    for (const toml::node& n : *arr) {
      Rule rule;
      if (!(s = parse_rule(*n.as_table(), source, index++, &rule)).ok()) return s;
      // Audit lines, denials and ListHandles name rules: two with one name would be one to a
      // reader.
      for (const Rule& earlier : config.rules) {
        if (earlier.name == rule.name) {
          return error_at(source, n.source(),
                          absl::StrCat("rule name \"", rule.name, "\" repeats the rule at line ",
                                       earlier.line, "; rule names must be unique"));
        }
      }
      config.rules.push_back(std::move(rule));
    }
  }
  if (listeners == nullptr) {
    listeners_from_daemon(&config);
  } else {
    const toml::array* arr = listeners->as_array();
    if (arr != nullptr && arr->empty()) {
      return error_at(source, listeners->source(),
                      "listener = [] serves no socket: write [[listener]] tables, or none");
    }
    if (arr == nullptr || !arr->is_array_of_tables()) {
      return error_at(source, listeners->source(), "listeners are written as [[listener]] tables");
    }
    int index = 0;
    for (const toml::node& n : *arr) {
      ListenerSettings l;
      if (!(s = parse_listener(*n.as_table(), source, index++, config.daemon, &l)).ok()) return s;
      for (const ListenerSettings& earlier : config.listeners) {
        const bool same_path = same_socket_path(earlier.path, l.path);
        if (earlier.name == l.name || same_path) {
          return error_at(
              source, n.source(),
              absl::StrCat("listener \"", l.name, "\" repeats the ",
                           earlier.name == l.name ? "name" : "path", " of the listener at line ",
                           earlier.line, "; each listener has a name and a path of its own"));
        }
      }
      config.listeners.push_back(std::move(l));
    }
  }
  if (!(s = resolve_listener_rules(source, &config)).ok()) return s;
  return config;
}

const ListenerSettings* Config::listener(const std::string& name) const {
  for (const ListenerSettings& l : listeners) {
    if (l.name == name) return &l;
  }
  return nullptr;
}

void fit_to_running_sockets(const std::vector<ListenerSettings>& started, Config* next) {
  for (const ListenerSettings& running : started) {
    auto now = std::find_if(next->listeners.begin(), next->listeners.end(),
                            [&](const ListenerSettings& l) { return l.name == running.name; });
    if (now == next->listeners.end()) {
      spdlog::warn(
          "reload: {} has no listener {}; its socket {} serves no rule until gssgated "
          "restarts (or the listener is back)",
          next->path, running.name, running.path);
      continue;
    }
    if (running.line == 0 && now->line == 0 && now->transport == running.transport) {
      // Both made from [daemon] (no [[listener]] before or now): the socket systemd passed at the
      // unit's path is this listener, as it was at start, whatever the file's path.
      now->path = running.path;
    }
    if (!same_socket_path(now->path, running.path) || now->transport != running.transport) {
      // The socket stays what it was: the rules the file now gives another socket must not apply
      // to this one.
      spdlog::warn(
          "reload: listener {} is now {} ({}) in {}, but its socket is {} ({}) until "
          "gssgated restarts; that socket serves no rule until then",
          running.name, now->path, transport_name(now->transport), next->path, running.path,
          transport_name(running.transport));
      next->listeners.erase(now);
      continue;
    }
    if (now->mode != running.mode || now->group != running.group ||
        now->max_connections != running.max_connections ||
        now->max_connections_per_uid != running.max_connections_per_uid) {
      spdlog::warn(
          "reload: listener {} keeps the mode, group and limits of its socket {} until "
          "gssgated restarts; its rules change now",
          running.name, running.path);
    }
  }
  for (const ListenerSettings& l : next->listeners) {
    const bool runs = std::any_of(started.begin(), started.end(),
                                  [&](const ListenerSettings& r) { return r.name == l.name; });
    if (!runs) {
      spdlog::warn("reload: new listener {} ({}) starts serving when gssgated restarts", l.name,
                   l.path);
    }
  }
}

bool same_socket_path(const std::string& a, const std::string& b) {
  return !a.empty() && !b.empty() &&
         std::filesystem::path(a).lexically_normal() == std::filesystem::path(b).lexically_normal();
}

const char* transport_name(ListenerSettings::Transport transport) {
  return transport == ListenerSettings::Transport::kWire ? "wire" : "grpc";
}

absl::StatusOr<Config> load_config(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return errno == EACCES
               ? absl::PermissionDeniedError(absl::StrCat("cannot read ", path))
               : absl::NotFoundError(absl::StrCat("cannot open ", path, ": ", strerror(errno)));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_config(ss.str(), path);
}

std::string describe(const Config& config) {
  const DaemonSettings& d = config.daemon;
  std::string out = absl::StrCat(config.listeners.size(), " listener(s):\n");
  for (const ListenerSettings& l : config.listeners) {
    char mode[8];
    snprintf(mode, sizeof(mode), "%04o", l.mode);
    absl::StrAppend(&out, "  [", l.name, "] ", l.path, " (", transport_name(l.transport), ", mode ",
                    mode, l.group ? absl::StrCat(", gid ", *l.group) : "", "), max_connections ",
                    l.max_connections, " (", l.max_connections_per_uid, " per uid); rules: ",
                    l.all_rules       ? "all"
                    : l.rules.empty() ? "none"
                                      : absl::StrJoin(l.rules, ", "),
                    "\n");
  }
  absl::StrAppend(&out, "first_call_timeout ", d.first_call_timeout_seconds,
                  " s, max_message_bytes ", d.max_message_bytes, ", idle_timeout ",
                  d.idle_timeout_seconds, " s\n", config.rules.size(), " rule(s):\n");
  for (const Rule& r : config.rules) {
    absl::StrAppend(&out, "  [", r.name, "] line ", r.line, ": uids {", join_ids(r.uids),
                    "} gids {", join_ids(r.gids), "}");
    if (!r.users.empty()) absl::StrAppend(&out, " users {", absl::StrJoin(r.users, ", "), "}");
    if (!r.cgroups.empty()) {
      absl::StrAppend(&out, " cgroups {", absl::StrJoin(r.cgroups, ", "), "}");
    }
    if (!r.systemd_units.empty()) {
      absl::StrAppend(&out, " systemd_units {", absl::StrJoin(r.systemd_units, ", "), "}");
    }
    if (!r.executables.empty()) {
      absl::StrAppend(&out, " executables {", absl::StrJoin(r.executables, ", "), "}");
    }
    if (!r.executable_sha256.empty()) {
      absl::StrAppend(&out, " executable_sha256 {", absl::StrJoin(r.executable_sha256, ", "), "}");
    }
    if (!r.groups.empty()) absl::StrAppend(&out, " groups {", absl::StrJoin(r.groups, ", "), "}");
    absl::StrAppend(&out, "\n    usages:", r.allow_initiate ? " initiate" : "",
                    r.allow_accept ? " accept" : "", "; mechs ", mech_list(r));
    if (r.keytab) absl::StrAppend(&out, "; keytab ", *r.keytab);
    if (r.client_keytab) absl::StrAppend(&out, "; client_keytab ", *r.client_keytab);
    if (r.ccache) absl::StrAppend(&out, "; ccache ", *r.ccache);
    absl::StrAppend(
        &out, "\n    principals: ",
        r.principals.empty() ? "any in the granted stores" : absl::StrJoin(r.principals, ", "),
        "; max_handles ", r.max_handles, "\n");
    std::vector<std::string> grants;
    if (r.allow_export_context) grants.push_back("export_context");
    if (r.allow_export_creds) grants.push_back("export_creds");
    if (r.allow_store_creds) grants.push_back("store_creds");
    if (r.allow_delegate) grants.push_back("delegate");
    if (r.allow_accept_delegated) grants.push_back("accept_delegated");
    if (r.admin) grants.push_back("admin");
    if (r.interpose) grants.push_back("interpose");
    if (r.allow_impersonate) {
      grants.push_back(
          r.impersonate_principals.empty()
              ? std::string("impersonate (anyone)")
              : absl::StrCat("impersonate (", absl::StrJoin(r.impersonate_principals, ", "), ")"));
    }
    absl::StrAppend(&out, "    grants: ",
                    grants.empty() ? "none beyond the usages" : absl::StrJoin(grants, ", "), "\n");
  }
  return out;
}

absl::StatusOr<std::string> expand_template(const std::string& tmpl, uid_t uid) {
  std::string out;
  for (size_t i = 0; i < tmpl.size(); ++i) {
    if (tmpl[i] != '%') {
      out.push_back(tmpl[i]);
      continue;
    }
    char next = i + 1 < tmpl.size() ? tmpl[i + 1] : '\0';
    ++i;
    if (next == '%') {
      out.push_back('%');
    } else if (next == 'U') {
      absl::StrAppend(&out, uid);
    } else if (next == 'u') {
      std::vector<char> buf(16384);
      passwd pw{};
      passwd* result = nullptr;
      if (getpwuid_r(uid, &pw, buf.data(), buf.size(), &result) != 0 || result == nullptr) {
        return absl::FailedPreconditionError(
            absl::StrCat("uid ", uid, " has no user name for %u in \"", tmpl, "\""));
      }
      out += pw.pw_name;
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "unknown %-sequence in \"", tmpl, "\" (use %U for the uid, %u for the user name)"));
    }
  }
  return out;
}

namespace {
bool matches_any(const std::vector<std::string>& patterns, const std::string& principal) {
  if (patterns.empty()) return true;
  for (const std::string& pattern : patterns) {
    if (fnmatch(pattern.c_str(), principal.c_str(), FNM_PATHNAME) == 0) return true;
  }
  return false;
}
}  // namespace

bool mech_allowed(const Rule& rule, const gss::Oid& mech) {
  return std::find(rule.mechs.begin(), rule.mechs.end(), mech) != rule.mechs.end();
}

std::string mech_label(const gss::Oid& mech) {
  for (const NamedMech& m : kNamedMechs) {
    if (m.oid() == mech) return absl::StrCat(m.name, " (", mech.dotted(), ")");
  }
  return mech.dotted();
}

std::string mech_list(const Rule& rule) {
  std::vector<std::string> names;
  for (const gss::Oid& mech : rule.mechs) {
    std::string name = mech.dotted();
    for (const NamedMech& m : kNamedMechs) {
      if (m.oid() == mech) name = m.name;
    }
    names.push_back(std::move(name));
  }
  return absl::StrJoin(names, ", ");
}

bool principal_allowed(const Rule& rule, const std::string& principal) {
  return matches_any(rule.principals, principal);
}

bool impersonation_allowed(const Rule& rule, const std::string& principal) {
  return rule.allow_impersonate && matches_any(rule.impersonate_principals, principal);
}

}  // namespace gssgate::daemon
