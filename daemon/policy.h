#pragma once

// daemon/policy: which rule a caller gets, decided in one place. A rule selects callers by ids
// (uids, users, gids, groups) and by what the daemon read of the connecting process at accept
// (peer.h): its cgroup, the systemd unit that cgroup belongs to, its executable's path and the
// SHA-256 of that file. Every selector a rule gives must match; a rule with process selectors
// never matches a caller whose process could not be pinned (it fails closed, and the denial says
// why). The model is the SPIFFE SPIRE agent's unix workload attestor; docs/policy.md has the
// operator's view.
//
// Thread-safety: everything here may be called from any thread.

#include <sys/stat.h>

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "daemon/config.h"
#include "daemon/peer.h"

namespace gssgate::daemon {

// What a rule grants, one right per key of the policy file.
enum class Right {
  kInitiate,         // usages = ["initiate"]
  kAccept,           // usages = ["accept"]
  kExportContext,    // export_context
  kExportCreds,      // export_creds
  kStoreCreds,       // store_creds
  kDelegate,         // delegate
  kAcceptDelegated,  // accept_delegated
  kImpersonate,      // impersonate
  kAdmin,            // admin
  kInterpose,        // interpose
};
inline constexpr Right kAllRights[] = {
    Right::kInitiate,    Right::kAccept,          Right::kExportContext, Right::kExportCreds,
    Right::kStoreCreds,  Right::kDelegate,        Right::kAcceptDelegated, Right::kImpersonate,
    Right::kAdmin,       Right::kInterpose};
bool grants(const Rule& rule, Right right);
// The right's word in the policy file and in WhoAmI's grants: "initiate", "export_context", ...
const char* right_name(Right right);
// The text of a refusal of `right` to `uid` under `rule`, needed for `what` ("exporting
// security contexts"): which rule, what it lacks, and how an administrator grants it —
// "policy rule \"web\" does not grant export_context to uid 33 (needed for exporting security
// contexts); an administrator can set export_context = true in it". Handlers refuse through
// require() (handlers/audit.h), which also writes the audit line.
std::string refusal(const Rule& rule, uid_t uid, Right right, absl::string_view what);

// The credential stores a rule names, by their key in the policy file.
enum class Store { kKeytab, kClientKeytab, kCcache };
const char* store_key(Store store);  // "keytab", "client_keytab", "ccache"

// A rule as it applies to one caller in one call (Call::grant): its rights, and its store
// templates expanded for the caller's uid. Handlers take stores from here, never from the rule's
// templates. A store is expanded once per call, at its first use, so a call that uses none (a
// message call) pays nothing for a %u user lookup. Not thread-safe: one call's handler uses it.
class Grant {
 public:
  Grant(const Rule& rule, uid_t uid) : rule_(&rule), uid_(uid) {}
  bool has(Right right) const { return grants(*rule_, right); }
  // The matched rule, for what the grant does not say itself (its mechanisms, principal
  // patterns); handlers never look for another.
  const Rule& rule() const { return *rule_; }
  const std::string& rule_name() const { return rule_->name; }
  uint32_t max_handles() const { return rule_->max_handles; }
  // The rule's `store` expanded for the caller: nullopt when the rule names none; else the value,
  // or expand_template's error (a %u for a uid without a user name).
  const std::optional<absl::StatusOr<std::string>>& store(Store store) const;

 private:
  const Rule* rule_;
  uid_t uid_;
  mutable bool expanded_[3] = {false, false, false};
  mutable std::optional<absl::StatusOr<std::string>> stores_[3];
};

// Whether the rule selects by anything read from the caller's process.
bool uses_process_matchers(const Rule& rule);
// Whether any rule of the policy needs the executable's digest.
bool wants_executable_digest(const Config& config);

// The outcome of matching a caller against the rules.
struct RuleMatch {
  const Rule* rule = nullptr;  // the first rule whose selectors all match; null if none
  // With no rule: why rules that select by process could not match this caller although its ids
  // would have let them ("its pid is 0: ..."), "" if that was not the reason.
  std::string why_not;
};
RuleMatch match_rule(const Config& config, const Peer& peer);

// The policy's word on a new connection (listener.h), asked first before the caller's process is
// read, so a caller no rule can take costs no pidfd or /proc read, and again after, when a rule
// that selects by process might take it. `digest`: a rule that matches by executable_sha256 might
// apply to this caller (its ids admit it), so the executable is hashed when read.
// `exe`: a rule that admits it uses executables or digests, so the executable is read. Both flags
// come from the policy snapshot of the first question (a reload between the two questions that
// adds such rules leaves the connection without: its refusal says to reconnect).
struct Admission {
  enum Verdict { kRule, kNoRule, kNeedsProcess } verdict = kRule;
  bool exe = false;
  bool digest = false;
};
Admission admit(const Config& config, const Peer& peer);

// The systemd unit a cgroup v2 path belongs to, with the cgroups below the unit's own: after
// the slices it nests in, the path from the unit ("/system.slice/apache2.service" →
// "apache2.service"; "/user.slice/user-1000.slice/user@1000.service/app.slice/x.service" →
// "user@1000.service/app.slice/x.service"). "" when the first component after the slices is no
// service or scope (a slice itself, or a container manager's own tree such as /kubepods/... or
// /lxc.payload.c1/system.slice/a.service), or the path has "." or ".." components.
std::string systemd_unit_of(const std::string& cgroup);

// Whether `cgroup` (a cgroup v2 path, or a unit path from systemd_unit_of) matches `pattern`:
// fnmatch with FNM_PATHNAME, so a * or ? never crosses a /; a pattern ending in "/**" also
// matches every path below one its prefix matches ("/kubepods/**": every pod and container under
// /kubepods, not /kubepods itself).
bool cgroup_matches(const std::string& pattern, const std::string& cgroup);
// Whether `path` (an executable, symbolic links resolved) matches `pattern`: as cgroup_matches
// ("/usr/lib/jvm/*/bin/java", "/opt/app/**").
bool executable_matches(const std::string& pattern, const std::string& path);

// The SHA-256 (lowercase hex) of the open regular file `fd` whose fstat is `st`, cached by
// device, inode, size, modification and change time: a file is hashed again when any of them
// changes (its owner can set the modification time back, nobody the change time on a local file
// system). The cache holds at most
// kMaxCachedDigests files (when full, one goes for each new one). `uid` is charged for what is
// hashed. Errors: RESOURCE_EXHAUSTED for a file over kMaxHashedBytes or a uid over its budget,
// UNAVAILABLE when it changed recently or while read, FAILED_PRECONDITION on FUSE, INTERNAL when
// it cannot be read.
// Hashing runs on the listener's thread: each uid may have at most kHashBudgetBytes hashed per
// kHashBudgetWindow (RESOURCE_EXHAUSTED past it), so one caller that keeps changing a large file
// cannot stall the accept loop for everyone. A file changed less than kRacySeconds ago is not
// hashed at all (UNAVAILABLE: "retry"), nor one on FUSE, whose server says what ctime and bytes
// are; files on network file systems are hashed but not cached (their ctime is the server's).
inline constexpr size_t kMaxCachedDigests = 1024;
inline constexpr off_t kMaxHashedBytes = off_t{256} << 20;
inline constexpr int kRacySeconds = 2;
inline constexpr int64_t kHashBudgetBytes = int64_t{1} << 30;
inline constexpr int kHashBudgetWindowSeconds = 60;
absl::StatusOr<std::string> executable_sha256(int fd, const struct stat& st, uid_t uid);

}  // namespace gssgate::daemon
