#pragma once

// gssgated's configuration: daemon settings and the policy rules, from one TOML file.
// See deploy/gssgated.example.toml for every key with its meaning.

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/gss/oid.h"

namespace gssgate::daemon {

struct DaemonSettings {
  // Without [[listener]] sections these make the two listeners "grpc" and "wire"; with them,
  // socket and wire_socket may not be given and the rest are the listeners' defaults.
  std::string socket_path = "/run/gssgate/gssgate.sock";
  // The wire transport's SOCK_SEQPACKET socket (docs/wire.md), same mode and group; "" = none.
  // Unless set, the socket path with its ".sock" replaced by ".wire".
  std::string wire_socket_path = "/run/gssgate/gssgate.wire";
  mode_t socket_mode = 0660;
  std::optional<gid_t> socket_group;
  int max_connections = 1024;
  // Connections one uid may hold at once, so one user cannot take every slot.
  int max_connections_per_uid = 128;
  // A connection that has made no call this long after it was accepted is closed (a caller that
  // connects and sends nothing, or stops in the middle of its first frame).
  int first_call_timeout_seconds = 30;
  int max_message_bytes = 1 << 20;
  // Live handles of all callers together (each rule's max_handles bounds one uid).
  int64_t max_handles_total = 2'000'000;
  // Handles unused for this long are released.
  int idle_timeout_seconds = 3600;
  // Worker threads serving calls (gRPC's sync server pool); 0 = number of cores.
  int workers = 0;
  // Threads the server may run calls on at once (gRPC's resource quota): a call that finds them
  // all busy gets RESOURCE_EXHAUSTED at once instead of a new thread, so slow calls (a slow KDC or
  // DNS, calls queued on one context) cannot pin threads without bound.
  int max_threads = 256;
  // Calls one connection may have in flight at once (HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS; the
  // client queues the rest).
  int max_streams_per_connection = 32;
  // A connection that has made no call this long is closed (its handles go with it, as when the
  // caller closes it); 0 = never.
  int idle_connection_timeout_seconds = 3600;
  // Who keeps the acceptor's replay cache (daemon/replay_cache.h): gssgated, in memory with a
  // file it appends to, or MIT, in its file2 cache (one the host's other acceptors can share).
  // Read at start only.
  enum class ReplayCacheKind { kGssgated, kMit };
  ReplayCacheKind replay_cache = ReplayCacheKind::kGssgated;
};

// One policy rule. It selects callers by ids and by their process (policy.h, match_rule): every
// selector given must match. By ids, a caller matches when its uid is in `uids` or its gid
// (primary or supplementary) is in `gids`; user and group names in the file are resolved to ids
// at load.
struct Rule {
  std::string name;
  bool named = false;  // `name` was written in the file (else it is "rule-N", by position)
  int line = 0;        // where the rule starts in the file
  std::vector<uid_t> uids;
  std::vector<gid_t> gids;
  std::vector<std::string> users;   // as written, for describe()
  std::vector<std::string> groups;  // as written, for describe()
  // Cgroup v2 path patterns (cgroup_matches: a * never crosses /; a trailing /** takes every
  // cgroup below). For containers: "/system.slice/docker-*.scope", "/kubepods/**".
  std::vector<std::string> cgroups;
  // The systemd unit the caller runs in (systemd_unit_of its cgroup), as patterns like cgroups':
  // "apache2.service", "user@1000.service/app.slice/*".
  std::vector<std::string> systemd_units;
  // The caller's executable as the host sees it: absolute paths or globs ("/usr/sbin/apache2").
  std::vector<std::string> executables;
  // SHA-256 digests (hex) of the executable file the caller runs.
  std::vector<std::string> executable_sha256;

  // Credential-store templates; %U expands to the caller's uid, %u to its user name, %% to %.
  std::optional<std::string> keytab;         // acceptor keys
  std::optional<std::string> client_keytab;  // initiator keys
  std::optional<std::string> ccache;         // initiator tickets; default: a per-uid MEMORY cache

  bool allow_initiate = false;
  bool allow_accept = false;
  // The mechanisms the rule may use (AcquireCreds, AddCred, InitSecContext, AcceptSecContext,
  // impersonation), written as names (krb5, krb5_old, krb5_ms, iakerb, spnego) or dotted OIDs.
  // Credentials are acquired for these only, and every step runs with a credential that has an
  // element for its mechanism: MIT's mechglue hands a mechanism GSS_C_NO_CREDENTIAL for one the
  // credential lacks, and krb5 then uses the process's own default ccache or keytab.
  std::vector<gss::Oid> mechs = {gss::oids::krb5(), gss::oids::spnego()};
  // Principals the caller may act as (fnmatch patterns against "name@REALM", where a * never
  // crosses /: "*@R" is users, "HTTP/*@R" services on any host); empty = whichever
  // the granted stores hold.
  std::vector<std::string> principals;
  bool allow_export_context = false;
  // Whether ExportCred may hand out the caller's credentials as a sealed token.
  bool allow_export_creds = false;
  // Whether StoreCred may write credentials (e.g. delegated ones) into the caller's ccache.
  bool allow_store_creds = false;
  // Delegation, filtered like gssproxy's filter_flags: without `delegate`, InitSecContext drops
  // the delegation request flags (the caller's TGT is never forwarded to a peer); without
  // `accept_delegated`, AcceptSecContext releases credentials a peer delegated instead of handing
  // the caller a handle to them, and clears the delegation flag in the reply.
  bool allow_delegate = false;
  bool allow_accept_delegated = false;
  // Operator rights: every caller's handles (ListHandles all), Reload.
  bool admin = false;
  // S4U2Self: whether the caller may impersonate users with its initiator credentials, and whom
  // (fnmatch patterns against "name@REALM"; empty = anyone the KDC lets it).
  bool allow_impersonate = false;
  std::vector<std::string> impersonate_principals;
  // Transparent mode opted in by the administrator: programs of the callers this rule matches use
  // gssgated through the interposer module without GSSGATE_INTERPOSE=1 in their environment (the
  // module asks WhoAmI at the program's first GSSAPI call). For services started by systemd,
  // match the service's cgroup. GSSGATE_INTERPOSE=0 in a program still opts it out.
  bool interpose = false;
  uint32_t max_handles = 1000;
};

// One socket gssgated serves ([[listener]]), and the rules that apply to its callers: a host
// socket for local services and a second one whose directory is mounted into containers can
// each have rules of their own. Sockets are made at start (a reload keeps them, and applies only
// `rules`); under systemd socket activation a socket passed with FileDescriptorName=NAME is the
// listener of that name.
struct ListenerSettings {
  enum class Transport { kGrpc, kWire };
  std::string name;  // unique; [A-Za-z0-9_.-], as systemd's FileDescriptorName= allows
  int line = 0;      // where the section starts in the file; 0 for one made from [daemon]
  std::string path;
  Transport transport = Transport::kGrpc;
  mode_t mode = 0660;
  std::optional<gid_t> group;
  int max_connections = 1024;
  int max_connections_per_uid = 128;
  // The names of the rules callers of this socket are matched against, in the file's order;
  // `all_rules` (no `rules` key): every rule.
  bool all_rules = true;
  std::vector<std::string> rules;
  // Per rule of Config::rules, by index: whether it applies here (set by parse_config).
  std::vector<bool> applies;
};
const char* transport_name(ListenerSettings::Transport transport);  // "grpc" or "wire"
// Whether two socket paths name one socket as written ("/run//x.sock" is "/run/x.sock"; links
// are not followed). An empty path is no socket's.
bool same_socket_path(const std::string& a, const std::string& b);

struct Config {
  std::string path;
  DaemonSettings daemon;
  std::vector<Rule> rules;
  // Never empty once parsed: without [[listener]] sections, "grpc" on [daemon] socket and, unless
  // wire_socket is "", "wire" on the wire socket.
  std::vector<ListenerSettings> listeners;
  // The listener named `name`; null if there is none.
  const ListenerSettings* listener(const std::string& name) const;
};

// Parses `text`; errors are INVALID_ARGUMENT "SOURCE:LINE:COLUMN: reason".
absl::StatusOr<Config> parse_config(const std::string& text, const std::string& source);
// Reads and parses a file. Errors: NOT_FOUND / PERMISSION_DENIED for the file, else as above.
absl::StatusOr<Config> load_config(const std::string& path);

// Fits a reloaded policy to the sockets that serve, made at start from `started`: a listener of
// `started` that `next` no longer has, or has with another path or transport, is left out of
// `next` (its callers are refused, naming it, until a restart makes the sockets of the file).
// Changes that apply only at restart (a listener's mode, group or limits, a new listener) are
// logged; the listeners' rules apply at once.
void fit_to_running_sockets(const std::vector<ListenerSettings>& started, Config* next);

// Human-readable summary of the settings and each rule (for --check-config and the start-up log).
std::string describe(const Config& config);

// Expands %U/%u/%% in a store template for `uid`. Errors: FAILED_PRECONDITION when %u is used and
// the uid has no user name; INVALID_ARGUMENT for an unknown %-sequence.
absl::StatusOr<std::string> expand_template(const std::string& tmpl, uid_t uid);

// Whether the rule allows `mech`.
bool mech_allowed(const Rule& rule, const gss::Oid& mech);
// "krb5_ms (1.2.840.48018.1.2.2)" for a mechanism with a name in the policy file, else the dotted
// OID.
std::string mech_label(const gss::Oid& mech);
// The rule's mechanisms as "krb5, spnego".
std::string mech_list(const Rule& rule);

// True when `principal` ("name@REALM") is allowed by the rule's principal patterns.
bool principal_allowed(const Rule& rule, const std::string& principal);
// True when the rule allows impersonating `principal`.
bool impersonation_allowed(const Rule& rule, const std::string& principal);

}  // namespace gssgate::daemon
