#include "daemon/policy.h"

#include <fnmatch.h>
#include <openssl/evp.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <tuple>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"

namespace gssgate::daemon {
namespace {

bool by_ids(const Rule& rule, const Peer& peer) {
  if (std::find(rule.uids.begin(), rule.uids.end(), peer.uid) != rule.uids.end()) return true;
  for (gid_t g : rule.gids) {
    if (g == peer.gid ||
        std::find(peer.groups.begin(), peer.groups.end(), g) != peer.groups.end()) {
      return true;
    }
  }
  return false;
}

template <typename Match>
bool any_of(const std::vector<std::string>& patterns, Match match) {
  return std::any_of(patterns.begin(), patterns.end(), match);
}

// The process selectors of `rule` against a pinned `peer`. False with *why set when the rule
// cannot be decided for lack of something the daemon could not read (the executable).
bool process_matches(const Rule& rule, const Peer& peer, std::string* why) {
  if (!rule.cgroups.empty() &&
      !any_of(rule.cgroups, [&](const std::string& p) { return cgroup_matches(p, peer.cgroup); })) {
    return false;
  }
  if (!rule.systemd_units.empty()) {
    const std::string unit = systemd_unit_of(peer.cgroup);
    if (unit.empty() || !any_of(rule.systemd_units,
                                [&](const std::string& p) { return cgroup_matches(p, unit); })) {
      return false;
    }
  }
  if (!rule.executables.empty()) {
    if (peer.exe.empty()) {
      *why = peer.exe_why.empty() ? "its executable is unknown" : peer.exe_why;
      return false;
    }
    if (!any_of(rule.executables,
                [&](const std::string& p) { return executable_matches(p, peer.exe); })) {
      return false;
    }
  }
  if (rule.executable_sha256.empty()) return true;
  if (peer.exe_sha256.empty()) {
    // Pinned, with no reason for a missing digest: none was wanted when it connected (the rules
    // that match by digest came with a later reload).
    *why = peer.exe_why.empty()
               ? "its connection was made before rules matched by executable_sha256 (reconnect)"
               : peer.exe_why;
    return false;
  }
  return std::find(rule.executable_sha256.begin(), rule.executable_sha256.end(), peer.exe_sha256) !=
         rule.executable_sha256.end();
}

// What identifies a file's content without reading it. The change time is the one that counts:
// a file's owner can set its modification time back (utimensat), but every write sets the change
// time to the present, and nobody can set it back.
struct FileKey {
  dev_t dev;
  ino_t ino;
  off_t size;
  int64_t mtime_sec, mtime_nsec;
  int64_t ctime_sec, ctime_nsec;
  explicit FileKey(const struct stat& st)
      : dev(st.st_dev),
        ino(st.st_ino),
        size(st.st_size),
        mtime_sec(st.st_mtim.tv_sec),
        mtime_nsec(st.st_mtim.tv_nsec),
        ctime_sec(st.st_ctim.tv_sec),
        ctime_nsec(st.st_ctim.tv_nsec) {}
  auto tied() const {
    return std::tie(dev, ino, size, mtime_sec, mtime_nsec, ctime_sec, ctime_nsec);
  }
  template <typename H>
  friend H AbslHashValue(H h, const FileKey& k) {
    return H::combine(std::move(h), k.tied());
  }
  friend bool operator==(const FileKey& a, const FileKey& b) { return a.tied() == b.tied(); }
};

absl::Mutex digests_mu;
absl::flat_hash_map<FileKey, std::string>& digests() ABSL_EXCLUSIVE_LOCKS_REQUIRED(digests_mu) {
  static auto* map = new absl::flat_hash_map<FileKey, std::string>();
  return *map;
}

// SHA-256 of the first `size` bytes of `fd`; a file longer than that fails (it grew while read).
absl::StatusOr<std::string> hash_file(int fd, off_t size) {
  // No partial result survives an error: OpenSSL's failures and read errors alike end here.
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  if (md == nullptr || EVP_DigestInit_ex(md, EVP_sha256(), nullptr) != 1) {
    EVP_MD_CTX_free(md);
    return absl::InternalError("cannot start a SHA-256 digest (OpenSSL)");
  }
  char buf[64 * 1024];
  off_t offset = 0;
  for (;;) {
    const size_t want =
        static_cast<size_t>(std::min<off_t>(static_cast<off_t>(sizeof(buf)), size + 1 - offset));
    const ssize_t n = pread(fd, buf, want, offset);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int error = errno;
      EVP_MD_CTX_free(md);
      return absl::InternalError(
          absl::StrCat("cannot read the executable: ", std::strerror(error)));
    }
    if (n == 0) break;
    offset += n;
    if (offset > size) {
      EVP_MD_CTX_free(md);
      return absl::UnavailableError("it grew while gssgated read it");
    }
    if (EVP_DigestUpdate(md, buf, static_cast<size_t>(n)) != 1) {
      EVP_MD_CTX_free(md);
      return absl::InternalError("SHA-256 failed (OpenSSL)");
    }
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  const bool done = EVP_DigestFinal_ex(md, digest, &len) == 1;
  EVP_MD_CTX_free(md);
  if (!done || len != 32) return absl::InternalError("SHA-256 failed (OpenSSL)");
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(digest), len));
}

// The bytes each uid had hashed in the current window (executable_sha256's budget).
struct HashBudget {
  int64_t window = 0;  // the window's number (seconds / kHashBudgetWindowSeconds)
  int64_t bytes = 0;
};
absl::Mutex budget_mu;
absl::flat_hash_map<uid_t, HashBudget>& budgets() ABSL_EXCLUSIVE_LOCKS_REQUIRED(budget_mu) {
  static auto* map = new absl::flat_hash_map<uid_t, HashBudget>();
  return *map;
}

// Charges `bytes` to `uid`; false (nothing charged) when that would exceed its budget.
bool charge(uid_t uid, int64_t bytes, int64_t now_seconds) {
  const int64_t window = now_seconds / kHashBudgetWindowSeconds;
  absl::MutexLock lock(&budget_mu);
  // A new window starts every uid afresh, so the map holds only the current window's uids.
  if (!budgets().empty() && budgets().begin()->second.window != window) budgets().clear();
  HashBudget& budget = budgets()[uid];
  budget.window = window;
  if (budget.bytes + bytes > kHashBudgetBytes) return false;
  budget.bytes += bytes;
  return true;
}

// File systems whose change time the local kernel keeps, so a cached digest may rely on it.
bool local_file_system(int64_t type) {
  switch (type) {
    case 0xEF53:      // ext2/3/4
    case 0x58465342:  // xfs
    case 0x9123683E:  // btrfs
    case 0x01021994:  // tmpfs
    case 0x794C7630:  // overlayfs
    case 0x73717368:  // squashfs
    case 0xF2F52010:  // f2fs
      return true;
    default:
      return false;
  }
}
constexpr int64_t kFuseMagic = 0x65735546;

}  // namespace

bool grants(const Rule& rule, Right right) {
  switch (right) {
    case Right::kInitiate:
      return rule.allow_initiate;
    case Right::kAccept:
      return rule.allow_accept;
    case Right::kExportContext:
      return rule.allow_export_context;
    case Right::kExportCreds:
      return rule.allow_export_creds;
    case Right::kStoreCreds:
      return rule.allow_store_creds;
    case Right::kDelegate:
      return rule.allow_delegate;
    case Right::kAcceptDelegated:
      return rule.allow_accept_delegated;
    case Right::kImpersonate:
      return rule.allow_impersonate;
    case Right::kAdmin:
      return rule.admin;
    case Right::kInterpose:
      return rule.interpose;
  }
  return false;
}

const char* right_name(Right right) {
  switch (right) {
    case Right::kInitiate:
      return "initiate";
    case Right::kAccept:
      return "accept";
    case Right::kExportContext:
      return "export_context";
    case Right::kExportCreds:
      return "export_creds";
    case Right::kStoreCreds:
      return "store_creds";
    case Right::kDelegate:
      return "delegate";
    case Right::kAcceptDelegated:
      return "accept_delegated";
    case Right::kImpersonate:
      return "impersonate";
    case Right::kAdmin:
      return "admin";
    case Right::kInterpose:
      return "interpose";
  }
  return "?";
}

std::string refusal(const Rule& rule, uid_t uid, Right right, absl::string_view what) {
  const char* name = right_name(right);
  const bool usage = right == Right::kInitiate || right == Right::kAccept;
  return absl::StrCat("policy rule \"", rule.name, "\" does not grant ", name, " to uid ", uid,
                      " (needed for ", what, "); an administrator can ",
                      usage ? absl::StrCat("add \"", name, "\" to its usages")
                            : absl::StrCat("set ", name, " = true in it"));
}

const char* store_key(Store store) {
  switch (store) {
    case Store::kKeytab:
      return "keytab";
    case Store::kClientKeytab:
      return "client_keytab";
    case Store::kCcache:
      return "ccache";
  }
  return "?";
}

const std::optional<absl::StatusOr<std::string>>& Grant::store(Store store) const {
  const size_t i = static_cast<size_t>(store);
  if (!expanded_[i]) {
    const std::optional<std::string>& tmpl = store == Store::kKeytab         ? rule_->keytab
                                             : store == Store::kClientKeytab ? rule_->client_keytab
                                                                             : rule_->ccache;
    if (tmpl) stores_[i] = expand_template(*tmpl, uid_);
    expanded_[i] = true;
  }
  return stores_[i];
}

bool uses_process_matchers(const Rule& rule) {
  return !rule.cgroups.empty() || !rule.systemd_units.empty() || !rule.executables.empty() ||
         !rule.executable_sha256.empty();
}

bool wants_executable_digest(const Config& config) {
  return std::any_of(config.rules.begin(), config.rules.end(),
                     [](const Rule& r) { return !r.executable_sha256.empty(); });
}

RuleMatch match_rule(const Config& config, const Peer& peer) {
  RuleMatch out;
  const ListenerSettings* listener = config.listener(peer.listener);
  if (listener == nullptr) {
    out.why_not = absl::StrCat("it connected through listener \"", peer.listener,
                               "\", which the policy file no longer has");
    return out;
  }
  for (size_t i = 0; i < config.rules.size(); ++i) {
    if (!listener->applies[i]) continue;
    const Rule& rule = config.rules[i];
    const bool has_ids = !rule.uids.empty() || !rule.gids.empty();
    if (has_ids && !by_ids(rule, peer)) continue;
    if (uses_process_matchers(rule)) {
      std::string why;
      if (!peer.pinned) {
        why = peer.unpinned_why.empty() ? "its process could not be pinned" : peer.unpinned_why;
      }
      if (!peer.pinned || !process_matches(rule, peer, &why)) {
        if (!why.empty() && out.why_not.empty()) out.why_not = std::move(why);
        continue;
      }
    }
    out.rule = &rule;
    out.why_not.clear();
    return out;
  }
  return out;
}

Admission admit(const Config& config, const Peer& peer) {
  Admission out;
  bool process_rule = false;
  const ListenerSettings* listener = config.listener(peer.listener);
  for (size_t i = 0; listener != nullptr && i < config.rules.size(); ++i) {
    if (!listener->applies[i]) continue;
    const Rule& rule = config.rules[i];
    const bool ids_admit = (rule.uids.empty() && rule.gids.empty()) || by_ids(rule, peer);
    if (!ids_admit) continue;
    // The first rule that takes the caller by ids alone ends the search: none after it can apply.
    if (!uses_process_matchers(rule)) break;
    process_rule = true;
    out.exe = out.exe || !rule.executables.empty() || !rule.executable_sha256.empty();
    out.digest = out.digest || !rule.executable_sha256.empty();
  }
  if (match_rule(config, peer).rule != nullptr) return out;
  out.verdict = !peer.pinned && process_rule ? Admission::kNeedsProcess : Admission::kNoRule;
  return out;
}

std::string systemd_unit_of(const std::string& cgroup) {
  // As systemd's cg_path_get_unit: from the root, slices nest; the first component that is no
  // slice must be the unit (a service or a scope), else the cgroup is none of systemd's units
  // (a container manager's own tree, /lxc.payload.x/system.slice/a.service, is not "a.service").
  // What lies below the unit is the unit's (with Delegate=, chosen by whoever it delegates to).
  std::vector<absl::string_view> parts = absl::StrSplit(cgroup, '/', absl::SkipEmpty());
  size_t i = 0;
  while (i < parts.size() && absl::EndsWith(parts[i], ".slice") && parts[i] != ".slice") ++i;
  if (i == parts.size()) return std::string();
  // systemd escapes a unit's cgroup name that could be mistaken for a kernel file with a "_".
  if (absl::StartsWith(parts[i], "_")) parts[i].remove_prefix(1);
  const absl::string_view unit = parts[i];
  bool named = false;
  for (absl::string_view type : {".service", ".scope", ".socket", ".mount", ".swap"}) {
    named = named || (absl::EndsWith(unit, type) && unit.size() > type.size());
  }
  if (!named || cgroup.empty() || cgroup[0] != '/') return std::string();
  for (absl::string_view part : parts) {
    if (part == "." || part == "..") return std::string();  // a path outside our cgroup namespace
  }
  return absl::StrJoin(parts.begin() + static_cast<ptrdiff_t>(i), parts.end(), "/");
}

bool cgroup_matches(const std::string& pattern, const std::string& cgroup) {
  if (cgroup.empty()) return false;
  if (fnmatch(pattern.c_str(), cgroup.c_str(), FNM_PATHNAME) == 0) return true;
  // "PREFIX/**": the paths PREFIX matches and everything below them.
  if (!absl::EndsWith(pattern, "/**")) return false;
  const std::string base = pattern.substr(0, pattern.size() - 3);
  for (size_t slash = cgroup.find('/', 1); slash != std::string::npos;
       slash = cgroup.find('/', slash + 1)) {
    if (fnmatch(base.c_str(), cgroup.substr(0, slash).c_str(), FNM_PATHNAME) == 0) return true;
  }
  return false;
}

bool executable_matches(const std::string& pattern, const std::string& path) {
  return cgroup_matches(pattern, path);
}

absl::StatusOr<std::string> executable_sha256(int fd, const struct stat& st, uid_t uid) {
  if (st.st_size > kMaxHashedBytes) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "it has ", st.st_size, " bytes; gssgated hashes executables of at most ", kMaxHashedBytes));
  }
  struct statfs fs {};
  if (fstatfs(fd, &fs) != 0) {
    return absl::InternalError(absl::StrCat("fstatfs: ", std::strerror(errno)));
  }
  if (static_cast<int64_t>(fs.f_type) == kFuseMagic) {
    // A FUSE server says what the change time is, and may serve other bytes to the next reader.
    return absl::FailedPreconditionError("it is on a FUSE file system, whose server can lie");
  }
  const FileKey key(st);
  {
    absl::MutexLock lock(&digests_mu);
    auto it = digests().find(key);
    if (it != digests().end()) return it->second;
  }
  // A file changed within the change time's granularity of its last change would keep its key (as
  // git's "racy" index entries), and one that keeps changing would be hashed at every connection.
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  if (now.tv_sec - st.st_ctim.tv_sec < kRacySeconds) {
    return absl::UnavailableError(
        absl::StrCat("it changed less than ", kRacySeconds, " s ago; connect again in a moment"));
  }
  if (!charge(uid, st.st_size, now.tv_sec)) {
    return absl::ResourceExhaustedError(
        absl::StrCat("uid ", uid, " had more than ", kHashBudgetBytes >> 20,
                     " MiB of executables hashed in ", kHashBudgetWindowSeconds, " s"));
  }
  // Hashed outside the lock: two callers of one new binary may both hash it, once.
  absl::StatusOr<std::string> digest = hash_file(fd, st.st_size);
  if (!digest.ok()) return digest;
  struct stat after {};
  if (fstat(fd, &after) != 0 || !(FileKey(after) == key)) {
    return absl::UnavailableError("it changed while gssgated read it");
  }
  if (!local_file_system(static_cast<int64_t>(fs.f_type))) return digest;
  absl::MutexLock lock(&digests_mu);
  if (digests().size() >= kMaxCachedDigests) digests().erase(digests().begin());
  digests().insert_or_assign(key, *digest);
  return digest;
}

}  // namespace gssgate::daemon
