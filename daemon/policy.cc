#include "daemon/policy.h"

#include <fnmatch.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <tuple>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"

namespace gssgate::daemon {
namespace {

bool by_ids(const Rule& rule, const Peer& peer) {
  if (std::find(rule.uids.begin(), rule.uids.end(), peer.uid) != rule.uids.end()) return true;
  for (gid_t g : rule.gids) {
    if (g == peer.gid || std::find(peer.groups.begin(), peer.groups.end(), g) != peer.groups.end()) {
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
    if (unit.empty() ||
        !any_of(rule.systemd_units, [&](const std::string& p) { return cgroup_matches(p, unit); })) {
      return false;
    }
  }
  if (rule.executables.empty() && rule.executable_sha256.empty()) return true;
  if (peer.exe.empty()) {
    *why = peer.exe_why.empty() ? "its executable is unknown" : peer.exe_why;
    return false;
  }
  if (!rule.executables.empty() &&
      !any_of(rule.executables,
              [&](const std::string& p) { return executable_matches(p, peer.exe); })) {
    return false;
  }
  if (rule.executable_sha256.empty()) return true;
  if (peer.exe_sha256.empty()) {
    *why = peer.exe_why.empty() ? "the digest of its executable is unknown" : peer.exe_why;
    return false;
  }
  return std::find(rule.executable_sha256.begin(), rule.executable_sha256.end(),
                   peer.exe_sha256) != rule.executable_sha256.end();
}

struct FileKey {
  dev_t dev;
  ino_t ino;
  off_t size;
  int64_t mtime_sec;
  int64_t mtime_nsec;
  template <typename H>
  friend H AbslHashValue(H h, const FileKey& k) {
    return H::combine(std::move(h), k.dev, k.ino, k.size, k.mtime_sec, k.mtime_nsec);
  }
  friend bool operator==(const FileKey& a, const FileKey& b) {
    return std::tie(a.dev, a.ino, a.size, a.mtime_sec, a.mtime_nsec) ==
           std::tie(b.dev, b.ino, b.size, b.mtime_sec, b.mtime_nsec);
  }
};

absl::Mutex digests_mu;
absl::flat_hash_map<FileKey, std::string>& digests() ABSL_EXCLUSIVE_LOCKS_REQUIRED(digests_mu) {
  static auto* map = new absl::flat_hash_map<FileKey, std::string>();
  return *map;
}

absl::StatusOr<std::string> hash_file(int fd) {
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  if (md == nullptr || EVP_DigestInit_ex(md, EVP_sha256(), nullptr) != 1) {
    EVP_MD_CTX_free(md);
    return absl::InternalError("cannot start a SHA-256 digest (OpenSSL)");
  }
  char buf[64 * 1024];
  off_t offset = 0;
  for (;;) {
    const ssize_t n = pread(fd, buf, sizeof(buf), offset);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int error = errno;
      EVP_MD_CTX_free(md);
      return absl::InternalError(absl::StrCat("cannot read the executable: ", std::strerror(error)));
    }
    if (n == 0) break;
    EVP_DigestUpdate(md, buf, static_cast<size_t>(n));
    offset += n;
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(md, digest, &len);
  EVP_MD_CTX_free(md);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), len));
}

}  // namespace

bool grants(const Rule& rule, Right right) {
  switch (right) {
    case Right::kInitiate: return rule.allow_initiate;
    case Right::kAccept: return rule.allow_accept;
    case Right::kExportContext: return rule.allow_export_context;
    case Right::kExportCreds: return rule.allow_export_creds;
    case Right::kStoreCreds: return rule.allow_store_creds;
    case Right::kDelegate: return rule.allow_delegate;
    case Right::kAcceptDelegated: return rule.allow_accept_delegated;
    case Right::kImpersonate: return rule.allow_impersonate;
    case Right::kAdmin: return rule.admin;
    case Right::kInterpose: return rule.interpose;
  }
  return false;
}

const char* right_name(Right right) {
  switch (right) {
    case Right::kInitiate: return "initiate";
    case Right::kAccept: return "accept";
    case Right::kExportContext: return "export_context";
    case Right::kExportCreds: return "export_creds";
    case Right::kStoreCreds: return "store_creds";
    case Right::kDelegate: return "delegate";
    case Right::kAcceptDelegated: return "accept_delegated";
    case Right::kImpersonate: return "impersonate";
    case Right::kAdmin: return "admin";
    case Right::kInterpose: return "interpose";
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
  for (const Rule& rule : config.rules) {
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

std::string systemd_unit_of(const std::string& cgroup) {
  // systemd names a unit's cgroup after the unit; slices nest, services and scopes hold
  // processes (and may have cgroups of their own below, with Delegate=).
  size_t start = 0;
  while (start < cgroup.size()) {
    if (cgroup[start] == '/') {
      ++start;
      continue;
    }
    size_t end = cgroup.find('/', start);
    if (end == std::string::npos) end = cgroup.size();
    const absl::string_view component(cgroup.data() + start, end - start);
    if (absl::EndsWith(component, ".service") || absl::EndsWith(component, ".scope")) {
      return cgroup.substr(start);
    }
    start = end;
  }
  return std::string();
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
  return !path.empty() && fnmatch(pattern.c_str(), path.c_str(), FNM_PATHNAME) == 0;
}

absl::StatusOr<std::string> executable_sha256(int fd, const struct stat& st) {
  const FileKey key{st.st_dev, st.st_ino, st.st_size, st.st_mtim.tv_sec, st.st_mtim.tv_nsec};
  {
    absl::MutexLock lock(&digests_mu);
    auto it = digests().find(key);
    if (it != digests().end()) return it->second;
  }
  // Hashed outside the lock: two callers of one new binary may both hash it, once.
  absl::StatusOr<std::string> digest = hash_file(fd);
  if (!digest.ok()) return digest;
  absl::MutexLock lock(&digests_mu);
  if (digests().size() >= kMaxCachedDigests) digests().clear();
  digests().insert_or_assign(key, *digest);
  return digest;
}

}  // namespace gssgate::daemon
