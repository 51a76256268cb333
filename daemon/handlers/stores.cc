#include "daemon/handlers/stores.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "lib/util/status_macros.h"

namespace gssgate::daemon {

absl::StatusOr<std::vector<gss::KeytabEntry>> keytab_entries(const std::string& keytab) {
  GSSGATE_ASSIGN_OR_RETURN(gss::Krb5Context ctx, gss::Krb5Context::create());
  return gss::list_keytab(ctx, keytab);
}

StoreOwner store_owner(const Call& call) {
  return StoreOwner{call.peer.uid, call.peer.gid, call.peer.groups};
}

absl::StatusOr<std::string> rule_store_for_mit(const Call& call, const char* key,
                                               const std::string& value, uint64_t* generation,
                                               StoreUse use) {
  absl::StatusOr<MitStore> store =
      store_for_mit(store_owner(call), call.grant.rule_name(), key, value, use);
  if (!store.ok()) {
    return absl::Status(
        store.status().code(),
        absl::StrCat("policy rule \"", call.grant.rule_name(), "\": ", store.status().message()));
  }
  if (generation != nullptr) *generation = store->generation;
  return store->value;
}

absl::StatusOr<std::vector<gss::KeytabEntry>> rule_keytab_entries(const Call& call, Store keytab) {
  const char* key = store_key(keytab);
  const auto& value = call.grant.store(keytab);
  if (!value) return absl::NotFoundError(absl::StrCat("the rule names no ", key));
  if (!value->ok()) return value->status();
  GSSGATE_ASSIGN_OR_RETURN(std::string readable, rule_store_for_mit(call, key, **value, nullptr));
  return keytab_entries(readable);
}

std::string keytab_diagnosis(const Call& call) {
  const auto& granted = call.grant.store(Store::kKeytab);
  if (!granted) return "";
  const Rule& rule = call.grant.rule();
  const std::string named = absl::StrCat("policy rule \"", rule.name, "\": keytab ");
  const absl::StatusOr<std::string>& keytab = *granted;
  if (!keytab.ok()) return absl::StrCat(named, *rule.keytab, ": ", keytab.status().message());
  std::string path = store_file(*keytab);
  if (path.empty()) path = *keytab;
  if (!redirectable(path)) {
    // A file only root can put there: gssgated may say what it finds (as its own uid).
    if (access(path.c_str(), F_OK) != 0) {
      return absl::StrCat(named, path, " does not exist (", strerror(errno), ")");
    }
    if (faccessat(AT_FDCWD, path.c_str(), R_OK, AT_EACCESS) != 0) {  // as gssgated's euid
      return absl::StrCat(named, path, " is not readable by gssgated (uid ", geteuid(),
                          "): ", strerror(errno));
    }
  }
  // Otherwise only what the caller's own open finds (rule_store_for_mit says why it failed).
  absl::StatusOr<std::vector<gss::KeytabEntry>> entries = rule_keytab_entries(call, Store::kKeytab);
  if (!entries.ok()) {
    if (absl::StartsWith(entries.status().message(), "policy rule")) {
      return std::string(entries.status().message());
    }
    return absl::StrCat(named, path, " cannot be read: ", entries.status().message());
  }
  if (entries->empty()) return absl::StrCat(named, path, " holds no keys");
  // Only the principals the rule may act as: the others are not the caller's business.
  std::vector<std::string> held;
  for (const gss::KeytabEntry& e : *entries) {
    if (!rule.principals.empty() && !principal_allowed(rule, e.principal)) continue;
    std::string one = absl::StrCat(e.principal, " kvno ", e.kvno);
    if (std::find(held.begin(), held.end(), one) == held.end()) held.push_back(std::move(one));
  }
  if (held.empty()) {
    return absl::StrCat(named, path, " holds no key for a principal the rule's principals allow");
  }
  constexpr size_t kShown = 6;
  const size_t more = held.size() > kShown ? held.size() - kShown : 0;
  held.resize(std::min(held.size(), kShown));
  return absl::StrCat(named, path, " holds ", absl::StrJoin(held, ", "),
                      more > 0 ? absl::StrCat(" and ", more, " more") : "",
                      "; the ticket must be for one of these at that kvno (after a key change, "
                      "export the new keys into the keytab: no restart is needed)");
}

std::string ccache_diagnosis(const Call& call) {
  const auto& granted = call.grant.store(Store::kCcache);
  if (!granted || !granted->ok()) return "";
  const absl::StatusOr<std::string>& ccache = *granted;
  // A ccache its callers could redirect is mirrored in memory, never written by MIT.
  if (const std::string file = store_file(*ccache); !file.empty() && redirectable(file)) return "";
  std::string path = *ccache;
  std::string dir;
  if (absl::StartsWith(path, "DIR:")) {
    dir = path.substr(4);
    if (absl::StartsWith(dir, ":")) return "";  // DIR::file names one file of an existing set
  } else if (absl::StartsWith(path, "FILE:") || path.find(':') == std::string::npos) {
    if (absl::StartsWith(path, "FILE:")) path = path.substr(5);
    const size_t slash = path.rfind('/');
    dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  } else {
    return "";  // MEMORY, KEYRING, KCM: not a directory the daemon writes
  }
  const std::string what = absl::StrCat("policy rule \"", call.grant.rule_name(), "\": ccache ",
                                        *ccache, ": directory ", dir);
  const char* fix = "; fix it and retry: no restart is needed";
  struct statvfs fs;
  if (statvfs(dir.c_str(), &fs) != 0) {
    return absl::StrCat(what, " cannot be used (", strerror(errno), ")", fix);
  }
  if (fs.f_flag & ST_RDONLY) return absl::StrCat(what, " is on a read-only file system", fix);
  // A ccache with a TGT and a few service tickets takes a few KiB.
  constexpr uint64_t kNeeded = 64 * 1024;
  const uint64_t free_bytes = static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
  // f_files == 0: the file system has no inode count (btrfs, many FUSE and NFS ones).
  if (free_bytes < kNeeded || (fs.f_files != 0 && fs.f_favail == 0)) {
    return absl::StrCat(what, " is full (", free_bytes, " bytes and ", fs.f_favail, " inodes free)",
                        fix);
  }
  if (faccessat(AT_FDCWD, dir.c_str(), W_OK | X_OK, AT_EACCESS) != 0) {  // as gssgated's euid
    return absl::StrCat(what, " is not writable by gssgated (uid ", geteuid(),
                        "): ", strerror(errno), fix);
  }
  return "";
}

bool is_keytab_error(OM_uint32 minor) {
  switch (static_cast<krb5_error_code>(minor)) {
    case KRB5_KT_NOTFOUND:
    case KRB5_KT_KVNONOTFOUND:
    case KRB5_KT_NOWRITE:
    case KRB5_KT_END:
    case KRB5_KT_BADNAME:
    case KRB5_KT_IOERR:
    case KRB5_KT_FORMAT:
    case KRB5_KEYTAB_BADVNO:
    case KRB5KRB_AP_ERR_BADKEYVER:
    case KRB5KRB_AP_ERR_NOKEY:
    case KRB5KRB_AP_WRONG_PRINC:
    case KRB5KRB_AP_ERR_BAD_INTEGRITY:
    case KRB5KRB_AP_ERR_NOT_US:
    case ENOENT:
    case EACCES:
      return true;
    default:
      return false;
  }
}

}  // namespace gssgate::daemon
