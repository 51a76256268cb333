#include "daemon/owner_stores.h"

#include <fcntl.h>
#include <sys/fsuid.h>
#include <sys/random.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "lib/gss/krb5.h"
#include "lib/util/status_macros.h"
#include "spdlog/spdlog.h"

namespace gssgate::daemon {

OwnedFd& OwnedFd::operator=(OwnedFd&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) close(fd_);
    fd_ = other.release();
  }
  return *this;
}

OwnedFd::~OwnedFd() {
  if (fd_ >= 0) close(fd_);
}

std::string store_file(std::string_view value) {
  for (std::string_view prefix : {"FILE:", "WRFILE:"}) {
    if (value.substr(0, prefix.size()) == prefix) return std::string(value.substr(prefix.size()));
  }
  // MIT reads a name without a type prefix as a FILE path (a colon after a slash is part of it).
  const size_t colon = value.find(':');
  const size_t slash = value.find('/');
  if (colon == std::string_view::npos || (slash != std::string_view::npos && slash < colon)) {
    return std::string(value);
  }
  return "";
}

namespace {

bool trusted_uid(uid_t uid) { return uid == 0 || uid == geteuid(); }

// A FUSE file system reports whatever owners its (unprivileged) server likes, and can stall any
// access: never trusted, never opened.
constexpr decltype(statfs::f_type) kFuseSuperMagic = 0x65735546;
// The most gssgated reads of a store its caller could redirect (a keytab of a few hundred keys or a
// ccache of a few hundred tickets is far less).
constexpr size_t kMaxStoreBytes = 256 * 1024;

// Writable by a uid other than root and gssgated's: by others, or by a group that is not root's.
bool open_to_others(const struct stat& st) {
  return (st.st_mode & S_IWOTH) != 0 ||
         ((st.st_mode & S_IWGRP) != 0 && st.st_gid != 0 && st.st_gid != getegid());
}

bool say(std::string* why, std::string text) {
  if (why != nullptr) *why = std::move(text);
  return true;
}

// Verdicts of redirectable() for a short while: a store path is checked on every acquisition of
// default credentials, and its verdict changes only when root changes a directory.
constexpr absl::Duration kVerdictTtl = absl::Seconds(10);
constexpr size_t kMaxVerdicts = 4096;
struct Verdict {
  bool redirectable = false;
  std::string why;
  absl::Time at;
};
absl::Mutex verdicts_mu;
absl::flat_hash_map<std::string, Verdict>& verdicts() ABSL_EXCLUSIVE_LOCKS_REQUIRED(verdicts_mu) {
  static auto* map = new absl::flat_hash_map<std::string, Verdict>();
  return *map;
}

bool walk(const std::string& path, std::string* why) {
  if (path.empty() || path[0] != '/') return say(why, "it is not an absolute path");
  std::string dir = "/";
  struct stat dir_st;
  if (stat("/", &dir_st) != 0 || !trusted_uid(dir_st.st_uid) || open_to_others(dir_st)) {
    return say(why, "/ is writable by others");
  }
  std::deque<std::string> todo;
  for (absl::string_view c : absl::StrSplit(path, '/', absl::SkipEmpty())) todo.emplace_back(c);
  int links = 0;
  while (!todo.empty()) {
    std::string name = std::move(todo.front());
    todo.pop_front();
    if (name == ".") continue;
    if (name == "..") {
      // `dir` was reached through checked components only, so its parent is fixed as well.
      const size_t slash = dir.rfind('/');
      dir = slash == 0 ? "/" : dir.substr(0, slash);
      if (stat(dir.c_str(), &dir_st) != 0) return say(why, absl::StrCat(dir, " cannot be read"));
      continue;
    }
    std::string child = dir;
    if (child.back() != '/') child.push_back('/');
    child.append(name);
    struct stat st;
    if (lstat(child.c_str(), &st) != 0) {
      if (errno == ENOENT && !open_to_others(dir_st)) return false;  // only root can create it
      if (errno == ENOENT) return say(why, absl::StrCat(dir, " is writable by others"));
      return say(why, absl::StrCat(child, " cannot be examined: ", std::strerror(errno)));
    }
    if (open_to_others(dir_st) && !((dir_st.st_mode & S_ISVTX) != 0 && trusted_uid(st.st_uid))) {
      return say(why, absl::StrCat(dir, " is writable by others"));
    }
    if (S_ISLNK(st.st_mode)) {
      if (!trusted_uid(st.st_uid)) return say(why, absl::StrCat(child, " is a link of uid ", st.st_uid));
      if (++links > 40) return say(why, absl::StrCat(child, ": too many links"));
      char target[4096];
      const ssize_t n = readlink(child.c_str(), target, sizeof(target) - 1);
      if (n <= 0) return say(why, absl::StrCat(child, " cannot be read"));
      const std::string to(target, static_cast<size_t>(n));
      std::vector<std::string> parts = absl::StrSplit(to, '/', absl::SkipEmpty());
      todo.insert(todo.begin(), parts.begin(), parts.end());
      if (to[0] == '/') {
        dir.assign(1, '/');  // not = "/": GCC 12 warns falsely (-Wrestrict)
        if (stat("/", &dir_st) != 0) return say(why, "/ cannot be read");
      }
      continue;
    }
    if (todo.empty()) return false;  // the file itself, in a directory only root can change
    if (!S_ISDIR(st.st_mode)) return false;  // no such path: MIT fails to open it
    if (!trusted_uid(st.st_uid)) return say(why, absl::StrCat(child, " belongs to uid ", st.st_uid));
    struct statfs fs;
    if (statfs(child.c_str(), &fs) != 0 || fs.f_type == kFuseSuperMagic) {
      return say(why, absl::StrCat(child, " is on a FUSE file system or cannot be examined"));
    }
    dir = child;
    dir_st = st;
  }
  return false;  // "/" itself
}

// This thread's filesystem identity and groups become the owner's for the object's lifetime
// (setfsuid, setfsgid and the raw setgroups system call act on the calling thread only; glibc's
// setgroups() would change every thread). taken() is false when gssgated may not take them (it
// needs CAP_SETUID and CAP_SETGID): the caller then refuses, rather than open the store with
// gssgated's own rights. A thread that cannot get its own identity back must not serve anyone
// else: that aborts.
class FsIdentity {
 public:
  explicit FsIdentity(const StoreOwner& owner) {
    if (owner.uid == geteuid() && owner.gid == getegid()) {
      taken_ = true;  // gssgated is the owner
      return;
    }
    const int n = getgroups(0, nullptr);
    if (n < 0) return;
    saved_groups_.resize(static_cast<size_t>(n));
    if (n > 0 && getgroups(n, saved_groups_.data()) != n) return;
    if (syscall(SYS_setgroups, owner.groups.size(), owner.groups.data()) != 0) return;
    changed_ = true;
    saved_gid_ = static_cast<gid_t>(setfsgid(owner.gid));
    saved_uid_ = static_cast<uid_t>(setfsuid(owner.uid));
    // setfsuid reports the previous value, not failure: ask again.
    taken_ = static_cast<uid_t>(setfsuid(static_cast<uid_t>(-1))) == owner.uid &&
             static_cast<gid_t>(setfsgid(static_cast<gid_t>(-1))) == owner.gid;
  }
  ~FsIdentity() {
    if (!changed_) return;
    setfsuid(saved_uid_);
    setfsgid(saved_gid_);
    const bool groups = syscall(SYS_setgroups, saved_groups_.size(), saved_groups_.data()) == 0;
    if (!groups || static_cast<uid_t>(setfsuid(static_cast<uid_t>(-1))) != saved_uid_ ||
        static_cast<gid_t>(setfsgid(static_cast<gid_t>(-1))) != saved_gid_) {
      spdlog::critical("cannot restore gssgated's own filesystem identity on this thread");
      std::abort();
    }
  }
  FsIdentity(const FsIdentity&) = delete;
  FsIdentity& operator=(const FsIdentity&) = delete;
  bool taken() const { return taken_; }

 private:
  std::vector<gid_t> saved_groups_;
  bool changed_ = false;
  bool taken_ = false;
  uid_t saved_uid_ = 0;
  gid_t saved_gid_ = 0;
};

absl::Status cannot_take(const StoreOwner& owner, const std::string& what) {
  return absl::PermissionDeniedError(absl::StrCat(
      what, " can be opened only as uid ", owner.uid, ", and gssgated (uid ", geteuid(),
      ") may not take another uid's filesystem identity: it needs CAP_SETUID and CAP_SETGID "
      "(or name a store in a directory gssgated owns)"));
}

bool on_fuse(const struct statfs& fs) { return fs.f_type == kFuseSuperMagic; }

}  // namespace

bool redirectable(const std::string& path, std::string* why) {
  const absl::Time now = absl::Now();
  {
    absl::MutexLock lock(&verdicts_mu);
    auto it = verdicts().find(path);
    if (it != verdicts().end() && now - it->second.at < kVerdictTtl) {
      if (why != nullptr) *why = it->second.why;
      return it->second.redirectable;
    }
  }
  Verdict v;
  v.redirectable = walk(path, &v.why);
  v.at = now;
  if (why != nullptr) *why = v.why;
  absl::MutexLock lock(&verdicts_mu);
  if (verdicts().size() >= kMaxVerdicts) verdicts().clear();
  verdicts()[path] = v;
  return v.redirectable;
}

absl::StatusOr<OwnedFd> open_as_owner(const std::string& path, const StoreOwner& owner,
                                      const std::string& what) {
  const std::string rule_of_thumb = absl::StrCat(
      "; gssgated reads a store its caller could redirect only as a regular file that the "
      "caller (uid ",
      owner.uid, ") owns");
  OwnedFd fd;
  int open_errno = 0;
  {
    FsIdentity as_owner(owner);
    if (!as_owner.taken()) return cannot_take(owner, what);
    fd = OwnedFd(open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
    open_errno = errno;
  }
  if (fd.get() < 0) {
    switch (open_errno) {
      case ELOOP:
        return absl::PermissionDeniedError(
            absl::StrCat(what, " is a symbolic link", rule_of_thumb));
      case ENOENT:
        return absl::NotFoundError(absl::StrCat(what, " does not exist"));
      case EACCES:
      case EPERM:
        return absl::PermissionDeniedError(
            absl::StrCat(what, " cannot be read by uid ", owner.uid, rule_of_thumb));
      default:
        return absl::PermissionDeniedError(
            absl::StrCat(what, " cannot be opened: ", std::strerror(open_errno)));
    }
  }
  struct stat st;
  if (fstat(fd.get(), &st) != 0) {
    return absl::InternalError(absl::StrCat(what, ": fstat: ", std::strerror(errno)));
  }
  struct statfs fs;
  if (fstatfs(fd.get(), &fs) != 0 || on_fuse(fs)) {
    return absl::PermissionDeniedError(
        absl::StrCat(what, " is on a FUSE file system", rule_of_thumb));
  }
  if (!S_ISREG(st.st_mode)) {
    return absl::PermissionDeniedError(absl::StrCat(what, " is not a regular file", rule_of_thumb));
  }
  if (st.st_uid != owner.uid) {
    return absl::PermissionDeniedError(
        absl::StrCat(what, " is not owned by uid ", owner.uid, rule_of_thumb));
  }
  return fd;
}

absl::Status replace_as_owner(const std::string& path, std::string_view bytes,
                              const StoreOwner& owner, const std::string& what) {
  FsIdentity as_owner(owner);
  if (!as_owner.taken()) return cannot_take(owner, what);
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos || slash + 1 == path.size()) {
    return absl::InvalidArgumentError(absl::StrCat(what, " is not a file path"));
  }
  const std::string dir = slash == 0 ? "/" : path.substr(0, slash);
  const std::string base = path.substr(slash + 1);
  OwnedFd dfd(open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (dfd.get() < 0) {
    return absl::PermissionDeniedError(
        absl::StrCat(what, ": directory cannot be opened by uid ", owner.uid, ": ",
                     std::strerror(errno)));
  }
  char random[8];
  if (getrandom(random, sizeof(random), 0) != static_cast<ssize_t>(sizeof(random))) {
    return absl::InternalError(absl::StrCat("getrandom: ", std::strerror(errno)));
  }
  const std::string temp = absl::StrCat(".", base, ".gssgate-",
                                        absl::BytesToHexString(absl::string_view(random, 8)));
  OwnedFd fd(openat(dfd.get(), temp.c_str(),
                    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (fd.get() < 0) {
    return absl::PermissionDeniedError(absl::StrCat(what, " cannot be written by uid ", owner.uid,
                                                    ": ", std::strerror(errno)));
  }
  auto fail = [&](const char* step) {
    const int e = errno;
    unlinkat(dfd.get(), temp.c_str(), 0);
    return absl::InternalError(absl::StrCat(what, ": ", step, ": ", std::strerror(e)));
  };
  for (size_t done = 0; done < bytes.size();) {
    const ssize_t n = write(fd.get(), bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return fail("write");
    done += static_cast<size_t>(n);
  }
  if (fsync(fd.get()) != 0) return fail("fsync");
  if (renameat(dfd.get(), temp.c_str(), dfd.get(), base.c_str()) != 0) return fail("rename");
  return absl::OkStatus();
}

namespace {
// What a mirror was last filled from.
struct MirrorState {
  bool present = false;
  dev_t dev = 0;
  ino_t ino = 0;
  off_t size = 0;
  timespec mtime{};
  timespec ctime{};
  uint64_t generation = 0;
  std::shared_ptr<gss::HeldKeytab> keep;  // a keytab mirror exists only while resolved
};
bool same_file(const MirrorState& m, const struct stat& st) {
  return m.present && m.dev == st.st_dev && m.ino == st.st_ino && m.size == st.st_size &&
         m.mtime.tv_sec == st.st_mtim.tv_sec && m.mtime.tv_nsec == st.st_mtim.tv_nsec &&
         m.ctime.tv_sec == st.st_ctim.tv_sec && m.ctime.tv_nsec == st.st_ctim.tv_nsec;
}
// Held while a mirror is checked and refilled, so two callers never fill one at once. Mirrors are
// refilled only when their file changed, so this is not on the path of an ordinary call.
absl::Mutex mirrors_mu;
absl::flat_hash_map<std::string, MirrorState>& mirrors() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mirrors_mu) {
  static auto* map = new absl::flat_hash_map<std::string, MirrorState>();
  return *map;
}
uint64_t next_generation() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mirrors_mu) {
  static uint64_t generation = 0;
  return ++generation;
}
}  // namespace

namespace {
// Empties the mirror `name` (a keytab's entries, a ccache's contents) if there is one, and
// records that its file is absent. Returns the mirror's new generation (0 if there was none).
uint64_t empty_mirror(const std::string& name, bool ccache) {
  absl::MutexLock lock(&mirrors_mu);
  auto it = mirrors().find(name);
  if (it == mirrors().end() && !ccache) return 0;
  MirrorState& state = mirrors()[name];
  if (!state.present && state.generation != 0) return state.generation;
  absl::StatusOr<gss::Krb5Context> ctx = gss::Krb5Context::create();
  if (ctx.ok()) {
    if (ccache) {
      gss::destroy_ccache(*ctx, name).IgnoreError();
    } else {
      // An empty MEMORY keytab is freed again as soon as it is closed.
      gss::mirror_keytab(*ctx, "MEMORY:gssgate-owner-none", name).IgnoreError();
    }
  }
  std::shared_ptr<gss::HeldKeytab> keep = std::move(state.keep);
  state = MirrorState();
  state.keep = std::move(keep);
  state.generation = next_generation();
  return state.generation;
}
}  // namespace

absl::StatusOr<MitStore> store_for_mit(const StoreOwner& owner, const std::string& rule,
                                       const std::string& key, const std::string& value) {
  MitStore out;
  out.value = value;
  const std::string what = absl::StrCat(key, " ", value);
  if (absl::StartsWith(value, "DIR:")) {
    std::string dir = value.substr(4);
    if (absl::StartsWith(dir, ":")) {  // DIR::/dir/tkt names one file of a collection
      dir = dir.substr(1);
      dir = dir.substr(0, dir.rfind('/'));
    }
    std::string why;
    if (redirectable(dir + "/x", &why)) {
      return absl::FailedPreconditionError(absl::StrCat(
          what, " is in a directory its callers can change (", why,
          "); gssgated mirrors only FILE: stores there: name a FILE: ccache"));
    }
    return out;
  }
  const std::string path = store_file(value);
  if (path.empty() || !redirectable(path)) return out;

  out.mirrored = true;
  out.value = absl::StrCat("MEMORY:gssgate-owner-", owner.uid, "-", rule, "-", key);
  const bool ccache = key == "ccache";
  absl::StatusOr<OwnedFd> fd = open_as_owner(path, owner, what);
  if (!fd.ok() && !(ccache && absl::IsNotFound(fd.status()))) {
    // The store went away or is refused now: so are the keys or tickets mirrored from it, for
    // every handle that still reads the mirror.
    empty_mirror(out.value, ccache);
    return fd.status();
  }

  struct stat st {};
  if (fd.ok() && fstat(fd->get(), &st) != 0) {
    return absl::InternalError(absl::StrCat(what, ": fstat: ", std::strerror(errno)));
  }
  {
    absl::MutexLock lock(&mirrors_mu);
    const MirrorState& state = mirrors()[out.value];
    if (fd.ok() ? same_file(state, st) : !state.present && state.generation != 0) {
      out.generation = state.generation;
      return out;
    }
  }
  if (!fd.ok()) {
    // The caller's ccache is gone (kdestroy): so are the credentials mirrored from it.
    out.generation = empty_mirror(out.value, ccache);
    return out;
  }
  // The bytes, read outside every lock from the descriptor opened as the owner (no file lock is
  // taken: a caller holding one on its own file stalls nobody) and bounded; MIT parses a private
  // copy of them (a memfd), so nothing the caller does to its file reaches MIT's reader.
  std::string bytes;
  bytes.resize(kMaxStoreBytes + 1);
  size_t got = 0;
  while (got < bytes.size()) {
    const ssize_t n = pread(fd->get(), bytes.data() + got, bytes.size() - got,
                            static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      empty_mirror(out.value, ccache);
      return absl::PermissionDeniedError(
          absl::StrCat(what, " cannot be read: ", std::strerror(errno)));
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  if (got > kMaxStoreBytes) {
    empty_mirror(out.value, ccache);
    return absl::PermissionDeniedError(absl::StrCat(
        what, " is larger than ", kMaxStoreBytes / 1024, " KiB, the most gssgated reads of a "
        "store its caller could redirect"));
  }
  bytes.resize(got);
  OwnedFd copy(memfd_create("gssgate-store", MFD_CLOEXEC));
  if (copy.get() < 0 ||
      write(copy.get(), bytes.data(), bytes.size()) != static_cast<ssize_t>(bytes.size())) {
    return absl::InternalError(absl::StrCat(what, ": memfd: ", std::strerror(errno)));
  }
  const std::string opened = absl::StrCat("FILE:/proc/self/fd/", copy.get());

  absl::MutexLock lock(&mirrors_mu);
  MirrorState& state = mirrors()[out.value];
  GSSGATE_ASSIGN_OR_RETURN(gss::Krb5Context ctx, gss::Krb5Context::create());
  if (!ccache && state.keep == nullptr) {
    GSSGATE_ASSIGN_OR_RETURN(state.keep, gss::HeldKeytab::resolve(out.value));
  }
  absl::Status filled = ccache ? gss::mirror_ccache(ctx, opened, out.value)
                               : gss::mirror_keytab(ctx, opened, out.value);
  if (!filled.ok()) {
    // Read again next time (the keytab mirror stays resolved); krb5's text names /proc/self/fd/N,
    // so say which store instead.
    std::shared_ptr<gss::HeldKeytab> keep = std::move(state.keep);
    state = MirrorState();
    state.keep = std::move(keep);
    return absl::InternalError(absl::StrCat(what, " cannot be read: ", filled.message()));
  }
  state.present = true;
  state.dev = st.st_dev;
  state.ino = st.st_ino;
  state.size = st.st_size;
  state.mtime = st.st_mtim;
  state.ctime = st.st_ctim;
  state.generation = next_generation();
  out.generation = state.generation;
  return out;
}

}  // namespace gssgate::daemon
