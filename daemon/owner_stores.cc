#include "daemon/owner_stores.h"

#include <fcntl.h>
#include <sys/fsuid.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <deque>
#include <memory>
#include <optional>

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
      if (!trusted_uid(st.st_uid))
        return say(why, absl::StrCat(child, " is a link of uid ", st.st_uid));
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
    if (todo.empty()) return false;          // the file itself, in a directory only root can change
    if (!S_ISDIR(st.st_mode)) return false;  // no such path: MIT fails to open it
    if (!trusted_uid(st.st_uid))
      return say(why, absl::StrCat(child, " belongs to uid ", st.st_uid));
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
    return absl::PermissionDeniedError(absl::StrCat(what, ": directory cannot be opened by uid ",
                                                    owner.uid, ": ", std::strerror(errno)));
  }
  char random[8];
  if (getrandom(random, sizeof(random), 0) != static_cast<ssize_t>(sizeof(random))) {
    return absl::InternalError(absl::StrCat("getrandom: ", std::strerror(errno)));
  }
  const std::string temp =
      absl::StrCat(".", base, ".gssgate-", absl::BytesToHexString(absl::string_view(random, 8)));
  OwnedFd fd(
      openat(dfd.get(), temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (fd.get() < 0) {
    return absl::PermissionDeniedError(
        absl::StrCat(what, " cannot be written by uid ", owner.uid, ": ", std::strerror(errno)));
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
// What a mirror was last filled from, and what it is.
//
// A keytab mirror is never changed once filled: MIT walks a MEMORY keytab with a cursor that
// points at its next entry, unlocked between entries (kt_memory.c), so an entry removed during an
// accept's walk would be freed under it. Each fill therefore makes a new MEMORY keytab, named
// after the mirror and its generation; the state holds the current one resolved, and an older one
// lives on, unchanged, only as long as a credential made from it holds it open. A ccache mirror is
// one MEMORY ccache replaced in place (MIT's cursors over those survive a reinitialisation).
struct MirrorState {
  bool present = false;
  dev_t dev = 0;
  ino_t ino = 0;
  off_t size = 0;
  timespec mtime{};
  timespec ctime{};
  uint64_t generation = 0;
  std::string current;  // what MIT is given: the keytab of this generation, or the ccache
  // The file had changed moments before it was read: a second write in the same clock tick (file
  // times move in ticks of a few milliseconds) would leave size and times as they are, so the
  // file is read again at every check until it has been still for a while (git's "racy clean"
  // problem), and `bytes` tells whether that read found anything new.
  bool racy = false;
  std::string bytes;                      // what was read, kept only while racy
  std::shared_ptr<gss::HeldKeytab> keep;  // the current keytab copy, resolved
  // The copy before it, kept a while longer: its name may have been handed out a moment before
  // the current one was made, and MIT may not have opened it yet.
  std::shared_ptr<gss::HeldKeytab> previous;
};
bool same_file(const MirrorState& m, const struct stat& st) {
  return m.present && !m.racy && m.dev == st.st_dev && m.ino == st.st_ino && m.size == st.st_size &&
         m.mtime.tv_sec == st.st_mtim.tv_sec && m.mtime.tv_nsec == st.st_mtim.tv_nsec &&
         m.ctime.tv_sec == st.st_ctim.tv_sec && m.ctime.tv_nsec == st.st_ctim.tv_nsec;
}
time_t now_seconds() {
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  return now.tv_sec;
}
// Whether the file `st` describes had changed less than two seconds before `read_at`, when its
// bytes were read. By its ctime only: a write always sets it, and no one but the kernel can set
// it back (a file's owner can set its mtime anywhere). A ctime ahead of the clock (the clock was
// set back) does not count, so that such a file settles too.
bool racy_at(const struct stat& st, time_t read_at) {
  return st.st_ctim.tv_sec >= read_at - 2 && st.st_ctim.tv_sec <= read_at + 1;
}
// Overwrites key bytes before their memory is released.
void wipe(std::string* bytes) {
  explicit_bzero(bytes->data(), bytes->size());
  bytes->clear();
}
// Held while a mirror is checked and refilled, so two callers never fill one at once. Mirrors are
// refilled only when their file changed, so this is not on the path of an ordinary call.
absl::Mutex mirrors_mu;
absl::flat_hash_map<std::string, MirrorState>& mirrors() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mirrors_mu) {
  static auto* map = new absl::flat_hash_map<std::string, MirrorState>();
  return *map;
}
uint64_t next_generation() {
  static std::atomic<uint64_t> generation{0};
  return ++generation;
}
void reset(MirrorState* state) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mirrors_mu) {
  wipe(&state->bytes);
  *state = MirrorState();
}
}  // namespace

namespace {
// Records that the file of mirror `name` is absent or refused: a ccache mirror is emptied; a
// keytab copy is no longer handed out (credentials made from it keep it until they are released).
// Returns the mirror's new generation (0 if there was none).
uint64_t empty_mirror(const std::string& name, bool ccache) {
  absl::MutexLock lock(&mirrors_mu);
  auto it = mirrors().find(name);
  if (it == mirrors().end() && !ccache) return 0;
  MirrorState& state = mirrors()[name];
  if (!state.present && state.generation != 0) return state.generation;
  if (ccache) {
    absl::StatusOr<gss::Krb5Context> ctx = gss::Krb5Context::create();
    if (ctx.ok()) gss::destroy_ccache(*ctx, name).IgnoreError();
  }
  reset(&state);
  state.generation = next_generation();
  return state.generation;
}
}  // namespace

namespace {
// The bytes of the store file open at `fd`, read outside every lock (no file lock is taken: a
// caller holding one on its own file stalls nobody) and bounded. PERMISSION_DENIED when the file
// cannot be read or is larger than kMaxStoreBytes.
absl::StatusOr<std::string> read_bounded(int fd, const std::string& what) {
  std::string bytes;
  bytes.resize(kMaxStoreBytes + 1);
  size_t got = 0;
  while (got < bytes.size()) {
    const ssize_t n = pread(fd, bytes.data() + got, bytes.size() - got, static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      wipe(&bytes);
      return absl::PermissionDeniedError(
          absl::StrCat(what, " cannot be read: ", std::strerror(errno)));
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  if (got > kMaxStoreBytes) {
    wipe(&bytes);
    return absl::PermissionDeniedError(absl::StrCat(what, " is larger than ", kMaxStoreBytes / 1024,
                                                    " KiB, the most gssgated reads of a "
                                                    "store its caller could redirect"));
  }
  bytes.resize(got);
  return bytes;
}

// What MIT is given for a mirror, and its generation.
struct MirrorCopy {
  std::string name;
  uint64_t generation = 0;
};

// Fills the mirror `name` with `bytes`, read at `read_at` from the file `st` describes (and wipes
// them). MIT parses a private copy of the bytes (a memfd), so nothing done to the file afterwards
// reaches MIT's reader.
absl::StatusOr<MirrorCopy> fill_mirror(const std::string& name, bool ccache, std::string bytes,
                                       const struct stat& st, time_t read_at,
                                       const std::string& what) {
  const bool racy = racy_at(st, read_at);
  auto record = [&](MirrorState& state) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mirrors_mu) {
    state.present = true;
    state.dev = st.st_dev;
    state.ino = st.st_ino;
    state.size = st.st_size;
    state.mtime = st.st_mtim;
    state.ctime = st.st_ctim;
    state.racy = racy;
    wipe(&state.bytes);
    if (racy) state.bytes = bytes;
  };
  {
    absl::MutexLock lock(&mirrors_mu);
    MirrorState& state = mirrors()[name];
    if (state.present && state.racy && state.bytes == bytes) {
      record(state);  // read again only because it was racy, and nothing changed
      wipe(&bytes);
      return MirrorCopy{state.current, state.generation};
    }
  }
  OwnedFd copy(memfd_create("gssgate-store", MFD_CLOEXEC));
  const bool written = copy.get() >= 0 && write(copy.get(), bytes.data(), bytes.size()) ==
                                              static_cast<ssize_t>(bytes.size());
  if (!written) {
    wipe(&bytes);
    return absl::InternalError(absl::StrCat(what, ": memfd: ", std::strerror(errno)));
  }
  const std::string opened = absl::StrCat("FILE:/proc/self/fd/", copy.get());
  // krb5's text names /proc/self/fd/N: say which store instead.
  auto unreadable = [&](const absl::Status& why) {
    return absl::InternalError(absl::StrCat(what, " cannot be read: ", why.message()));
  };

  const uint64_t generation = next_generation();
  std::shared_ptr<gss::HeldKeytab> keep;
  std::string target = name;
  if (!ccache) {
    // A new keytab no one else knows yet: made outside the lock.
    target = absl::StrCat(name, "#", generation);
    absl::StatusOr<gss::Krb5Context> ctx = gss::Krb5Context::create();
    absl::StatusOr<std::unique_ptr<gss::HeldKeytab>> held =
        ctx.ok() ? gss::HeldKeytab::resolve(target) : ctx.status();
    absl::Status filled = held.ok() ? gss::mirror_keytab(*ctx, opened, target) : held.status();
    if (!filled.ok()) {
      wipe(&bytes);
      absl::MutexLock lock(&mirrors_mu);
      reset(&mirrors()[name]);  // read again next time
      return unreadable(filled);
    }
    keep = *std::move(held);
  }

  absl::MutexLock lock(&mirrors_mu);
  MirrorState& state = mirrors()[name];
  if (same_file(state, st)) {
    // Another call made a copy of this very file meanwhile: one copy is enough (ours, never
    // handed out, goes with `keep`).
    wipe(&bytes);
    return MirrorCopy{state.current, state.generation};
  }
  if (ccache) {
    // The one MEMORY ccache, replaced in place under the lock.
    absl::StatusOr<gss::Krb5Context> ctx = gss::Krb5Context::create();
    absl::Status filled = ctx.ok() ? gss::mirror_ccache(*ctx, opened, target) : ctx.status();
    if (!filled.ok()) {
      reset(&state);
      wipe(&bytes);
      return unreadable(filled);
    }
  }
  record(state);
  wipe(&bytes);
  state.generation = generation;
  state.current = target;
  // An older copy lives on only while a credential made from it holds it open.
  state.previous = std::move(state.keep);
  state.keep = std::move(keep);
  return MirrorCopy{state.current, state.generation};
}

// The current copy of mirror `name` if it was filled from the file `st` describes.
std::optional<MirrorCopy> current_copy(const std::string& name, const struct stat& st) {
  absl::MutexLock lock(&mirrors_mu);
  auto it = mirrors().find(name);
  if (it == mirrors().end() || !same_file(it->second, st)) return std::nullopt;
  return MirrorCopy{it->second.current, it->second.generation};
}

// The copy of the file open at `fd` (which `st` describes): the current one if it was made from
// this very file, else a new one read from `fd`. PERMISSION_DENIED when the file cannot be read or
// is too large (read_bounded), INTERNAL when krb5 cannot parse it (fill_mirror).
absl::StatusOr<MirrorCopy> copy_of(const std::string& mirror, bool ccache, int fd,
                                   const struct stat& st, const std::string& what) {
  if (std::optional<MirrorCopy> copy = current_copy(mirror, st)) return *copy;
  const time_t read_at = now_seconds();
  GSSGATE_ASSIGN_OR_RETURN(std::string bytes, read_bounded(fd, what));
  return fill_mirror(mirror, ccache, std::move(bytes), st, read_at, what);
}

// A keytab only root can change, for the shared default acceptor credentials: MIT reads a FILE:
// keytab on every accept (an open, two locks, a dozen seeks and reads: docs/performance.md,
// "Eighth run"), where a MEMORY copy made again whenever the file changes costs one stat per call.
// A change shows at the next call as before: the new copy's name makes default_creds acquire
// afresh. Anything unusual (not a regular file, larger than the bound, unreadable, krb5 cannot
// parse it) leaves the file to MIT, which reports it as before.
MitStore trusted_keytab_for_mit(const std::string& value, const std::string& path,
                                const std::string& what) {
  MitStore plain;
  plain.value = value;
  const std::string mirror = absl::StrCat("MEMORY:gssgate-file-", path);
  auto left_to_mit = [&] {
    empty_mirror(mirror, /*ccache=*/false);
    return plain;
  };
  struct stat st {};
  if (stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode) ||
      static_cast<size_t>(st.st_size) > kMaxStoreBytes) {
    return left_to_mit();
  }
  MitStore out;
  out.mirrored = true;
  if (std::optional<MirrorCopy> copy = current_copy(mirror, st)) {
    out.value = copy->name;
    out.generation = copy->generation;
    return out;
  }
  OwnedFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (fd.get() < 0 || fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) return left_to_mit();
  absl::StatusOr<MirrorCopy> copy = copy_of(mirror, /*ccache=*/false, fd.get(), st, what);
  if (absl::IsPermissionDenied(copy.status())) return left_to_mit();
  if (!copy.ok()) {
    spdlog::debug("{}: left to MIT to read ({})", what, copy.status().ToString());
    return plain;
  }
  out.value = copy->name;
  out.generation = copy->generation;
  return out;
}
}  // namespace

absl::StatusOr<MitStore> store_for_mit(const StoreOwner& owner, const std::string& rule,
                                       const std::string& key, const std::string& value,
                                       StoreUse use) {
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
      return absl::FailedPreconditionError(
          absl::StrCat(what, " is in a directory its callers can change (", why,
                       "); gssgated mirrors only FILE: stores there: name a FILE: ccache"));
    }
    return out;
  }
  const std::string path = store_file(value);
  if (path.empty()) return out;
  if (!redirectable(path)) {
    if (use == StoreUse::kSharedDefault && key == "keytab") {
      return trusted_keytab_for_mit(value, path, what);
    }
    return out;
  }

  out.mirrored = true;
  const std::string mirror = absl::StrCat("MEMORY:gssgate-owner-", owner.uid, "-", rule, "-", key);
  out.value = mirror;
  const bool ccache = key == "ccache";
  absl::StatusOr<OwnedFd> fd = open_as_owner(path, owner, what);
  if (!fd.ok() && !(ccache && absl::IsNotFound(fd.status()))) {
    // The store went away or is refused now: so are the keys or tickets mirrored from it, for
    // every new credential (and, for a ccache, every handle that still reads the mirror).
    empty_mirror(mirror, ccache);
    return fd.status();
  }
  if (!fd.ok()) {
    // The caller's ccache is gone (kdestroy): so are the credentials mirrored from it.
    out.generation = empty_mirror(mirror, ccache);
    return out;
  }
  struct stat st {};
  if (fstat(fd->get(), &st) != 0) {
    return absl::InternalError(absl::StrCat(what, ": fstat: ", std::strerror(errno)));
  }
  // Read from the descriptor opened as the owner.
  absl::StatusOr<MirrorCopy> copy = copy_of(mirror, ccache, fd->get(), st, what);
  // Unreadable or too large now: so are the keys or tickets mirrored from it.
  if (absl::IsPermissionDenied(copy.status())) empty_mirror(mirror, ccache);
  if (!copy.ok()) return copy.status();
  out.value = copy->name;
  out.generation = copy->generation;
  return out;
}

}  // namespace gssgate::daemon
