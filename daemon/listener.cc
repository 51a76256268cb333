#include "daemon/listener.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "daemon/log_format.h"
#include "daemon/policy.h"
#include "spdlog/spdlog.h"

namespace gssgate::daemon {
namespace {

// The cgroup v2 path of `pid` (the "0::" line of /proc/PID/cgroup), or "" when unreadable (the
// process is gone, /proc is restricted, or the host has no unified hierarchy).
std::string cgroup_of(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/cgroup"));
  std::string line;
  while (std::getline(in, line)) {
    if (absl::StartsWith(line, "0::")) return line.substr(3);
  }
  return std::string();
}

// The effective uid in /proc/PID/status, or -1 when unreadable.
int64_t euid_of(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (!absl::StartsWith(line, "Uid:")) continue;
    std::vector<std::string> ids = absl::StrSplit(line.substr(4), '\t', absl::SkipWhitespace());
    int64_t euid = -1;
    if (ids.size() >= 2 && absl::SimpleAtoi(ids[1], &euid)) return euid;
  }
  return -1;
}

// The connecting process, as far as the kernel lets us pin it: a pidfd for its exit, its cgroup
// and its executable (with the executable's digest when a rule wants one). SO_PEERCRED's pid is
// the process that called connect(); by accept() it may have exited and, in principle, its pid
// been reused by another process, whose cgroup or executable a rule would then match. So the
// pidfd is opened first, everything read next, and what was read is kept only if the pidfd's
// process is still alive afterwards (so the pid was not reused while reading) and runs as the
// peer's uid; peer->pinned says so. Otherwise peer->unpinned_why says why not, rules that select by
// process do not match (policy.h), and there is no pidfd (the connection's handles go when it
// closes). The same holds without pidfd_open (Linux < 5.3), for a caller in a pid namespace the
// daemon cannot see (SO_PEERCRED gives pid 0) and for a caller that changed its effective uid
// after connect() (connected as root, then dropped privileges); uid and gid rules still match.
// Linux >= 6.5 has SO_PEERPIDFD, a pidfd of the very process that connected, which closes the
// remaining window (reuse before pidfd_open by a process of the same uid): it is tried first.
// Debian 12 runs 6.1, where it fails with ENOPROTOOPT and pidfd_open is used.
// The executable read here is what the process runs at accept, not at connect: a program that
// connects and execs a trusted binary before gssgated accepts is judged as that binary. Rules by
// executable therefore narrow what a uid's programs get; they are no boundary against code that
// can run as that uid (docs/policy.md).
#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77  // include/uapi/asm-generic/socket.h, Linux 6.5
#endif
int peer_pidfd(int socket_fd, pid_t pid) {
  int pidfd = -1;
  socklen_t len = sizeof(pidfd);
  if (getsockopt(socket_fd, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len) == 0 && pidfd >= 0) {
    return pidfd;
  }
  // Only a kernel without SO_PEERPIDFD falls back to the pid: on one with it, a failure means the
  // peer is gone, and its pid may already be another process's.
  if (errno != ENOPROTOOPT) return -1;
  return static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
}

// Why gssgated could not read `path` of another process (errno `error`).
std::string cannot_read(const std::string& path, int error) {
  return absl::StrCat("gssgated cannot read ", path, " (", std::strerror(error),
                      error == EACCES || error == EPERM
                          ? "; rules by executable need gssgated to hold CAP_SYS_PTRACE, which "
                            "the shipped unit does not grant: docs/policy.md)"
                          : ")");
}

// Whether `pid` runs in gssgated's own user namespace; false with *why otherwise. In a user
// namespace of its own a process holds CAP_SYS_ADMIN over itself and may set what /proc/PID/exe
// shows (prctl PR_SET_MM_MAP's exe_fd) to any file it can open, a trusted program's included.
bool in_our_user_namespace(pid_t pid, std::string* why) {
  // Ours never changes (gssgated makes no setns call): read once.
  static const struct stat ours = [] {
    struct stat st {};
    if (stat("/proc/self/ns/user", &st) != 0) st.st_ino = 0;  // then no caller is in ours
    return st;
  }();
  const std::string ns = absl::StrCat("/proc/", pid, "/ns/user");
  struct stat theirs {};
  if (stat(ns.c_str(), &theirs) != 0) {
    *why = cannot_read(ns, errno);
    return false;
  }
  if (ours.st_ino == 0 || theirs.st_dev != ours.st_dev || theirs.st_ino != ours.st_ino) {
    *why =
        "it runs in a user namespace of its own, where a process can choose what its executable "
        "appears to be (prctl PR_SET_MM_MAP), so rules by executable cannot match it";
    return false;
  }
  return true;
}

// The executable of `pid` (see peer.h): its path, kept only when the file at that path in
// gssgated's mount namespace is the very file the process runs (readlink gives the path in the
// process's own mount namespace, where it may have mounted anything over a trusted path), and,
// with `digest`, the SHA-256 of that file, read through /proc/PID/exe (so a path only the
// process's mount namespace has, as in a container, does not matter).
void read_executable(pid_t pid, bool digest, Peer* peer) {
  if (!in_our_user_namespace(pid, &peer->exe_why)) return;
  const std::string link = absl::StrCat("/proc/", pid, "/exe");
  const int fd = open(link.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    peer->exe_why = cannot_read(link, errno);
    return;
  }
  struct stat st {};
  char path[PATH_MAX];
  const ssize_t n = readlink(link.c_str(), path, sizeof(path) - 1);
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || n <= 0) {
    peer->exe_why = absl::StrCat("gssgated cannot read ", link);
    close(fd);
    return;
  }
  const std::string shown(path, static_cast<size_t>(n));
  struct stat at_path {};
  if (stat(shown.c_str(), &at_path) == 0 && at_path.st_dev == st.st_dev &&
      at_path.st_ino == st.st_ino) {
    peer->exe = shown;
  } else {
    peer->exe_why = absl::StrCat(
        "its executable, ", log_value(shown),
        " in its own view, is not the file at that path for gssgated (another mount namespace, "
        "as in a container, or the file was replaced or deleted since the program started)");
  }
  if (digest) {
    absl::StatusOr<std::string> sha256 = executable_sha256(fd, st, peer->uid);
    if (sha256.ok()) {
      peer->exe_sha256 = *std::move(sha256);
    } else {
      peer->exe_why =
          absl::StrCat("gssgated cannot hash ", log_value(shown), ": ", sha256.status().message());
    }
  }
  close(fd);
  // Checked again after the reads: a process that entered a user namespace of its own meanwhile
  // (and set its exe there) cannot go back to ours, so this catches it.
  std::string why;
  if (!in_our_user_namespace(pid, &why)) {
    peer->exe.clear();
    peer->exe_sha256.clear();
    peer->exe_why = std::move(why);
  }
}

// What the policy needs read of the process (policy.h, Admission): its cgroup always, its
// executable and the executable's digest only when a rule that admits the caller uses them.
void pin_process(int socket_fd, const ucred& cred, const Admission& needs, int* pidfd, Peer* peer) {
  *pidfd = -1;
  if (cred.pid == 0) {
    peer->unpinned_why =
        "its pid is 0: it runs in a pid namespace gssgated cannot see (run gssgated in the host's "
        "pid namespace, e.g. hostPID: true in Kubernetes)";
    return;
  }
  *pidfd = peer_pidfd(socket_fd, cred.pid);
  if (*pidfd < 0) {  // gone already (ESRCH), or Linux < 5.3 (ENOSYS)
    peer->unpinned_why = absl::StrCat("gssgated could not pin pid ", cred.pid,
                                      " (pidfd: ", std::strerror(errno), ")");
    return;
  }
  // Every read first, the liveness check last: if the pidfd's process is still alive after them,
  // the pid was not reused while reading, so all came from that process.
  Peer read;
  read.uid = cred.uid;
  read.cgroup = cgroup_of(cred.pid);
  if (needs.exe || needs.digest) read_executable(cred.pid, needs.digest, &read);
  const int64_t euid = euid_of(cred.pid);
  pollfd exited{*pidfd, POLLIN, 0};
  if (poll(&exited, 1, 0) != 0 || euid != static_cast<int64_t>(cred.uid)) {
    spdlog::debug(
        "pid {} of a uid={} connection has exited or is another uid's now; its "
        "cgroup and executable are not used",
        cred.pid, cred.uid);
    close(*pidfd);
    *pidfd = -1;
    peer->unpinned_why = absl::StrCat("pid ", cred.pid,
                                      " exited, or changed its uid, before gssgated could read it");
    return;
  }
  peer->pinned = true;
  peer->cgroup = std::move(read.cgroup);
  peer->exe = std::move(read.exe);
  peer->exe_sha256 = std::move(read.exe_sha256);
  peer->exe_why = std::move(read.exe_why);
}

// Connection ids: unique in the process, never reused (see accept_one).
std::atomic<uint64_t> next_connection_id{1};

constexpr uint64_t kListenTag = 0;
constexpr uint64_t kStopTag = ~uint64_t{0};
constexpr uint64_t kPidTag = uint64_t{1} << 62;  // epoll tag bit: the connection's pidfd

absl::Status errno_error(const std::string& what) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(errno)));
}

sockaddr_un make_addr(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());
  return addr;
}

// True if something accepts connections of `type` on the socket at `path`.
bool socket_is_live(const std::string& path, int type) {
  int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un addr = make_addr(path);
  bool live = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return live;
}

}  // namespace

std::vector<InheritedSocket> inherited_sockets() {
  std::vector<InheritedSocket> out;
  const char* pid = std::getenv("LISTEN_PID");
  const char* fds = std::getenv("LISTEN_FDS");
  const char* names = std::getenv("LISTEN_FDNAMES");
  int listen_pid = 0;
  int listen_fds = 0;
  if (pid == nullptr || fds == nullptr || !absl::SimpleAtoi(pid, &listen_pid) ||
      !absl::SimpleAtoi(fds, &listen_fds) || listen_pid != getpid() || listen_fds < 1 ||
      listen_fds > 1024) {
    return out;
  }
  std::vector<std::string> fd_names;
  if (names != nullptr) fd_names = absl::StrSplit(names, ':');
  for (int i = 0; i < listen_fds; ++i) {
    InheritedSocket socket;
    socket.fd = 3 + i;
    fcntl(socket.fd, F_SETFD, FD_CLOEXEC);
    if (static_cast<size_t>(i) < fd_names.size()) socket.name = fd_names[static_cast<size_t>(i)];
    socklen_t len = sizeof(socket.type);
    if (getsockopt(socket.fd, SOL_SOCKET, SO_TYPE, &socket.type, &len) != 0) socket.type = -1;
    int domain = 0, accepting = 0;
    len = sizeof(domain);
    const bool unix_domain =
        getsockopt(socket.fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) == 0 && domain == AF_UNIX;
    len = sizeof(accepting);
    socket.unix_listening =
        unix_domain && getsockopt(socket.fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &len) == 0 &&
        accepting != 0;
    sockaddr_un addr{};
    len = sizeof(addr);
    if (getsockname(socket.fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0 &&
        addr.sun_family == AF_UNIX && len > offsetof(sockaddr_un, sun_path) &&
        addr.sun_path[0] != '\0') {
      socket.path.assign(addr.sun_path, strnlen(addr.sun_path, sizeof(addr.sun_path)));
    }
    out.push_back(std::move(socket));
  }
  return out;
}

absl::StatusOr<InheritedMatch> match_inherited(const std::vector<ListenerSettings>& listeners,
                                               const std::vector<InheritedSocket>& sockets) {
  InheritedMatch out;
  out.taken.resize(listeners.size());
  // Listeners made from [daemon] (no [[listener]] in the file) take sockets as gssgated did before
  // there were listeners: by type, whatever their path, and ignore sockets they have no use for.
  const bool from_daemon = std::all_of(listeners.begin(), listeners.end(),
                                       [](const ListenerSettings& l) { return l.line == 0; });
  auto type_of = [](const ListenerSettings& l) {
    return l.transport == ListenerSettings::Transport::kWire ? SOCK_SEQPACKET : SOCK_STREAM;
  };
  auto describe = [](const InheritedSocket& socket) {
    return absl::StrCat(
        socket.type == SOCK_SEQPACKET ? "a SOCK_SEQPACKET"
        : socket.type == SOCK_STREAM  ? "a stream"
                                      : "a",
        " socket (fd ", socket.fd, socket.path.empty() ? "" : absl::StrCat(", ", socket.path),
        socket.name.empty() ? "" : absl::StrCat(", FileDescriptorName ", socket.name), ")");
  };
  // First by FileDescriptorName= (names are unique), else by path: a unit without names passes
  // its own name for every socket.
  std::vector<InheritedSocket> unmatched;
  for (const InheritedSocket& socket : sockets) {
    if (!socket.unix_listening) {
      return absl::FailedPreconditionError(
          absl::StrCat("systemd passed ", describe(socket),
                       ", which is no listening Unix socket; gssgated serves only "
                       "ListenStream= and ListenSequentialPacket= paths"));
    }
    std::optional<size_t> named, at_path;
    for (size_t i = 0; i < listeners.size(); ++i) {
      if (type_of(listeners[i]) != socket.type) continue;
      if (listeners[i].name == socket.name) named = i;
      if (same_socket_path(socket.path, listeners[i].path)) at_path = i;
    }
    if (named && !from_daemon && !same_socket_path(socket.path, listeners[*named].path)) {
      // A unit that names the wrong socket must not hand one socket's callers another's rules.
      return absl::FailedPreconditionError(
          absl::StrCat("systemd passed ", describe(socket), " for listener \"",
                       listeners[*named].name, "\", whose path is ", listeners[*named].path,
                       "; make the socket unit's path and the listener's path the same"));
    }
    const std::optional<size_t> taker = named ? named : at_path;
    if (!taker) {
      unmatched.push_back(socket);
      continue;
    }
    if (out.taken[*taker]) {
      if (from_daemon) {
        out.unused.push_back(socket);
        continue;
      }
      return absl::FailedPreconditionError(absl::StrCat(
          "systemd passed two sockets for listener \"", listeners[*taker].name, "\" (fds ",
          out.taken[*taker]->fd, " and ", socket.fd, "); give each its own FileDescriptorName="));
    }
    out.taken[*taker] = socket;
  }
  // Then, only for listeners made from [daemon], by type: a listener still without a socket takes
  // the one socket of its type that nothing took, if there is exactly one (with more, which one
  // was meant is a guess, and they are closed).
  for (const InheritedSocket& socket : unmatched) {
    if (!from_daemon) {
      return absl::FailedPreconditionError(absl::StrCat(
          "systemd passed ", describe(socket),
          " that no listener takes: give it a [[listener]] whose name is its "
          "FileDescriptorName= (or whose path is its path) and whose transport is its type "
          "(grpc: stream, wire: SOCK_SEQPACKET), or remove it from the socket unit"));
    }
    const auto of_type =
        std::count_if(unmatched.begin(), unmatched.end(),
                      [&](const InheritedSocket& s) { return s.type == socket.type; });
    std::optional<size_t> free;
    for (size_t i = 0; i < listeners.size() && !free; ++i) {
      if (type_of(listeners[i]) == socket.type && !out.taken[i]) free = i;
    }
    if (of_type == 1 && free) {
      out.taken[*free] = socket;
    } else {
      out.unused.push_back(socket);
    }
  }
  return out;
}

absl::StatusOr<std::unique_ptr<Listener>> Listener::create(const ListenerSettings& listener,
                                                           const DaemonSettings& settings,
                                                           int inherited_fd) {
  const std::string& path = listener.path;
  const int type =
      listener.transport == ListenerSettings::Transport::kWire ? SOCK_SEQPACKET : SOCK_STREAM;
  if (inherited_fd >= 0) {
    return std::unique_ptr<Listener>(
        new Listener(inherited_fd, listener, settings, /*unlink_on_exit=*/false));
  }
  if (path.size() >= sizeof(sockaddr_un::sun_path)) {
    return absl::InvalidArgumentError(absl::StrCat("socket path too long (", path.size(),
                                                   " bytes, at most ",
                                                   sizeof(sockaddr_un::sun_path) - 1, "): ", path));
  }
  std::error_code ec;
  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty() && !std::filesystem::exists(parent, ec)) {
    std::filesystem::create_directories(parent, ec);
    if (ec) return absl::InternalError(absl::StrCat("mkdir ", parent.string(), ": ", ec.message()));
    chmod(parent.c_str(), 0755);
  }
  struct stat st {};
  if (lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return absl::FailedPreconditionError(
          absl::StrCat(path, " exists and is not a socket; remove it or choose another path"));
    }
    if (socket_is_live(path, type)) {
      return absl::FailedPreconditionError(absl::StrCat("another server is accepting on ", path,
                                                        "; stop it or choose another socket path"));
    }
    // A stale socket from a daemon that died: nobody listens, so replacing it hijacks nothing.
    unlink(path.c_str());
  }

  int fd = socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return errno_error("socket");
  sockaddr_un addr = make_addr(path);
  // Bind under a tight umask so the socket is never reachable with a wider mode than configured,
  // not even between bind() and chmod().
  mode_t old_umask = umask(0177);
  int rc = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  umask(old_umask);
  if (rc != 0) {
    absl::Status s = errno_error(absl::StrCat("bind ", path));
    close(fd);
    return s;
  }
  if (listener.group && chown(path.c_str(), static_cast<uid_t>(-1), *listener.group) != 0) {
    absl::Status s = errno_error(absl::StrCat("chown ", path));
    close(fd);
    return s;
  }
  if (chmod(path.c_str(), listener.mode) != 0 || listen(fd, SOMAXCONN) != 0) {
    absl::Status s = errno_error(absl::StrCat("chmod/listen ", path));
    close(fd);
    return s;
  }
  return std::unique_ptr<Listener>(new Listener(fd, listener, settings, /*unlink_on_exit=*/true));
}

Listener::Listener(int listen_fd, const ListenerSettings& listener, const DaemonSettings& settings,
                   bool unlink_on_exit)
    : listen_fd_(listen_fd),
      name_(listener.name),
      path_(listener.path),
      transport_(listener.transport),
      max_connections_(listener.max_connections),
      max_connections_per_uid_(listener.max_connections_per_uid),
      first_call_timeout_(absl::Seconds(settings.first_call_timeout_seconds)),
      idle_connection_timeout_(absl::Seconds(settings.idle_connection_timeout_seconds)),
      unlink_on_exit_(unlink_on_exit) {
  // An inherited (systemd) socket may be blocking; accept4 must never block the loop.
  fcntl(listen_fd_, F_SETFL, fcntl(listen_fd_, F_GETFL) | O_NONBLOCK);
}

Listener::~Listener() {
  stop();
  absl::MutexLock lock(&mu_);
  for (auto& [id, conn] : by_id_) {
    close(conn.dup_fd);
    if (conn.pidfd >= 0) close(conn.pidfd);
  }
  by_id_.clear();
  by_fd_.clear();
}

void Listener::start(std::function<void(int fd)> hand_off, GoneCallback on_gone, HasRule has_rule) {
  hand_off_ = std::move(hand_off);
  on_gone_ = std::move(on_gone);
  has_rule_ = std::move(has_rule);
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  stop_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  reserve_fd_ = open("/dev/null", O_RDONLY | O_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kListenTag;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listen_fd_, &ev);
  ev.data.u64 = kStopTag;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, stop_fd_, &ev);
  thread_ = std::thread([this] { loop(); });
}

void Listener::stop() {
  if (thread_.joinable()) {
    uint64_t one = 1;
    ssize_t ignored = write(stop_fd_, &one, sizeof(one));
    (void)ignored;
    thread_.join();
  }
  if (listen_fd_ >= 0) {
    close(listen_fd_);
    listen_fd_ = -1;
    if (unlink_on_exit_) unlink(path_.c_str());
  }
  if (epoll_fd_ >= 0) close(epoll_fd_);
  if (stop_fd_ >= 0) close(stop_fd_);
  if (reserve_fd_ >= 0) close(reserve_fd_);
  epoll_fd_ = stop_fd_ = reserve_fd_ = -1;
}

void Listener::loop() {
  epoll_event events[64];
  for (;;) {
    const int timeout_ms = sweep_interval_ms();
    int n = epoll_wait(epoll_fd_, events, 64, timeout_ms);
    if (timeout_ms >= 0) sweep();
    if (n < 0) {
      if (errno == EINTR) continue;
      spdlog::error("listener: epoll_wait: {}", std::strerror(errno));
      return;
    }
    for (int i = 0; i < n; ++i) {
      uint64_t tag = events[i].data.u64;
      if (tag == kStopTag) return;
      if (tag == kListenTag) {
        accept_one();
      } else if ((tag & kPidTag) != 0) {
        process_exited(tag & ~kPidTag);
      } else {
        closed(tag);
      }
    }
  }
}

bool Listener::refuse_for_lack_of_fds(int error) {
  if (reserve_fd_ >= 0) {
    close(reserve_fd_);
    reserve_fd_ = -1;
  }
  int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
  if (fd >= 0) close(fd);
  reserve_fd_ = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  warn_out_of_fds(error);
  return true;
}

void Listener::warn_out_of_fds(int error) const {
  spdlog::warn(
      "connection refused: gssgated is out of file descriptors ({}, with {} connections open; "
      "each takes three); raise LimitNOFILE in the unit (gssgated raises its soft limit to the "
      "hard one at start)",
      std::strerror(error), connection_count());
}

void Listener::warn_ruleless_full(const Peer& peer) {
  const absl::Time now = absl::Now();
  if (now - last_ruleless_warning_ < absl::Seconds(1)) return;
  last_ruleless_warning_ = now;
  spdlog::warn(
      "connection refused: {} connections of callers without a policy rule are open already "
      "(uid={} gid={} pid={} matches no rule either); callers with a rule are not affected",
      kMaxRuleless, peer.uid, peer.gid, peer.pid);
}

void Listener::accept_one() {
  for (;;) {
    // Non-blocking, as grpc::AddInsecureChannelFromFd requires.
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE) {
        if (refuse_for_lack_of_fds(errno)) continue;
        // No room even with the reserve (another thread took the freed slot): back off instead
        // of spinning on a listening socket that stays readable.
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        return;
      }
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        spdlog::warn("listener: accept: {}", std::strerror(errno));
      }
      return;
    }
    ucred cred{};
    socklen_t len = sizeof(cred);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
      spdlog::warn("listener: SO_PEERCRED failed ({}); connection refused", std::strerror(errno));
      close(fd);
      continue;
    }
    Peer peer{cred.uid, cred.gid, cred.pid, {}, 0, name_};
    gid_t groups[256];
    socklen_t glen = sizeof(groups);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &glen) == 0) {
      peer.groups.assign(groups, groups + glen / sizeof(gid_t));
    }
    int pidfd = -1;
    auto refuse = [&] {
      close(fd);
      if (pidfd >= 0) close(pidfd);
    };
    Admission admission = has_rule_ ? has_rule_(peer) : Admission{};
    if (admission.verdict == Admission::kNoRule) {
      // The cheapest refusal for a flood of callers without a rule: nothing else is looked up.
      bool full = false;
      {
        absl::MutexLock lock(&mu_);
        full = ruleless_ >= kMaxRuleless;
      }
      if (full) {
        warn_ruleless_full(peer);
        refuse();
        continue;
      }
    }
    // A rule may match by the process (cgroup, unit, executable), read through the pidfd. A caller
    // no rule admits is not read at all: it can hold no handles, so needs no pidfd either.
    if (admission.verdict != Admission::kNoRule) pin_process(fd, cred, admission, &pidfd, &peer);
    if (admission.verdict == Admission::kNeedsProcess && peer.pinned) {
      admission = has_rule_(peer);
    }
    const bool ruleless = admission.verdict != Admission::kRule;
    int ruled_open = 0, ruleless_open = 0, held = 0;
    {
      absl::MutexLock lock(&mu_);
      ruleless_open = ruleless_;
      ruled_open = static_cast<int>(by_id_.size()) - ruleless_;
      auto it = per_uid_.find(peer.uid);
      held = it == per_uid_.end() ? 0 : it->second;
    }
    if (ruleless) {
      if (ruleless_open >= kMaxRuleless) {
        warn_ruleless_full(peer);
        refuse();
        continue;
      }
    } else if (ruled_open >= max_connections_) {
      spdlog::warn(
          "connection refused: listener {} reached its limit of {} connections (uid={} gid={} "
          "pid={}); raise its max_connections if this load is expected",
          name_, max_connections_, peer.uid, peer.gid, peer.pid);
      refuse();
      continue;
    } else if (held >= max_connections_per_uid_) {
      spdlog::warn(
          "connection refused: uid {} already holds {} connections on listener {} "
          "(max_connections_per_uid) (gid={} pid={}); raise it if this caller needs more",
          peer.uid, held, name_, peer.gid, peer.pid);
      refuse();
      continue;
    }
    int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (dup_fd < 0) {
      if (errno == EMFILE || errno == ENFILE) {
        warn_out_of_fds(errno);
      } else {
        spdlog::warn("listener: dup: {}; connection refused", std::strerror(errno));
      }
      refuse();
      continue;
    }
    // One sequence for every listener of the process (the gRPC and the wire socket): handles are
    // owned by (uid, connection), so two listeners' connections must never share an id.
    peer.connection = next_connection_id.fetch_add(1, std::memory_order_relaxed);
    struct stat socket_stat {};
    fstat(fd, &socket_stat);  // cannot fail on a descriptor accept4 just returned
    {
      absl::MutexLock lock(&mu_);
      // A reused fd number replaces the old record: gRPC closed that fd, so no call of the old
      // connection can still be running under this number.
      by_fd_[fd] = peer;
      Conn conn{fd, dup_fd, pidfd, peer, absl::Now()};
      conn.dev = socket_stat.st_dev;
      conn.ino = socket_stat.st_ino;
      conn.last_call = conn.accepted;
      conn.ruleless = ruleless;
      by_id_[peer.connection] = std::move(conn);
      if (ruleless) {
        ++ruleless_;
      } else {
        ++per_uid_[peer.uid];
      }
      ++not_called_;
    }
    epoll_event ev{};
    ev.events = EPOLLRDHUP;  // not EPOLLIN: the data is gRPC's to read
    ev.data.u64 = peer.connection;
    epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, dup_fd, &ev);
    if (pidfd >= 0) {
      epoll_event pev{};
      pev.events = EPOLLIN;  // a pidfd becomes readable when the process exits
      pev.data.u64 = peer.connection | kPidTag;
      epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, pidfd, &pev);
    }
    spdlog::debug("connection {} from uid={} gid={} pid={} cgroup={} exe={} (fd {}){}",
                  peer.connection, peer.uid, peer.gid, peer.pid,
                  peer.cgroup.empty() ? "-" : log_value(peer.cgroup),
                  peer.exe.empty() ? "-" : log_value(peer.exe), fd,
                  ruleless ? "; no rule matches: closed after its call" : "");
    hand_off_(fd);
  }
}

void Listener::closed(uint64_t connection) {
  Peer peer;
  {
    absl::MutexLock lock(&mu_);
    auto it = by_id_.find(connection);
    if (it == by_id_.end()) return;
    epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, it->second.dup_fd, nullptr);
    close(it->second.dup_fd);
    if (it->second.pidfd >= 0) {
      epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, it->second.pidfd, nullptr);
      close(it->second.pidfd);
    }
    auto by_fd = by_fd_.find(it->second.fd);
    if (by_fd != by_fd_.end() && by_fd->second.connection == connection) by_fd_.erase(by_fd);
    peer = it->second.peer;
    if (!it->second.called) --not_called_;
    if (it->second.ruleless) {
      --ruleless_;
    } else if (--per_uid_[peer.uid] <= 0) {
      per_uid_.erase(peer.uid);
    }
    by_id_.erase(it);
  }
  spdlog::debug("connection {} closed (uid={} pid={})", connection, peer.uid, peer.pid);
  if (on_gone_) on_gone_(peer, /*closed=*/true, absl::StrCat("connection ", connection, " closed"));
}

void Listener::process_exited(uint64_t connection) {
  Peer peer;
  {
    absl::MutexLock lock(&mu_);
    auto it = by_id_.find(connection);
    if (it == by_id_.end() || it->second.pidfd < 0) return;
    epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, it->second.pidfd, nullptr);
    close(it->second.pidfd);
    it->second.pidfd = -1;
    peer = it->second.peer;
  }
  spdlog::debug("process {} of connection {} exited", peer.pid, connection);
  if (on_gone_) on_gone_(peer, /*closed=*/false, "process exited");
}

std::optional<Peer> Listener::peer_for(const std::string& grpc_peer) const {
  absl::string_view rest(grpc_peer);
  if (!absl::ConsumePrefix(&rest, "fd:")) return std::nullopt;
  int fd = -1;
  if (!absl::SimpleAtoi(rest, &fd)) return std::nullopt;
  return peer_for_fd(fd);
}

std::optional<Peer> Listener::peer_for_fd(int fd) const {
  // The socket behind fd N now: the record holds only if it is the one accepted (defence in depth
  // for "fd:N" naming a descriptor number, which the kernel reuses).
  struct stat now {};
  if (fstat(fd, &now) != 0) return std::nullopt;
  absl::MutexLock lock(&mu_);
  auto it = by_fd_.find(fd);
  if (it == by_fd_.end()) return std::nullopt;
  auto conn = by_id_.find(it->second.connection);
  if (conn == by_id_.end() || conn->second.dev != now.st_dev || conn->second.ino != now.st_ino) {
    // Another listener may have accepted a socket under this number since (the caller asks each
    // listener of its transport): the caller logs an error when none claims the call.
    spdlog::debug("fd {} is no longer the socket accepted as connection {} here", fd,
                  it->second.connection);
    return std::nullopt;
  }
  if (!conn->second.called) {
    conn->second.called = true;
    --not_called_;
  }
  conn->second.last_call = absl::Now();
  return it->second;
}

int Listener::sweep_interval_ms() const {
  absl::MutexLock lock(&mu_);
  // Once a second while a connection owes its first call or lives on without a rule.
  if (not_called_ > 0 || ruleless_ > 0) return 1000;
  if (idle_connection_timeout_ == absl::ZeroDuration() || by_id_.empty()) return -1;
  return static_cast<int>(
      absl::ToInt64Milliseconds(std::min(idle_connection_timeout_ / 4, absl::Seconds(30))));
}

void Listener::sweep() {
  const absl::Time now = absl::Now();
  absl::MutexLock lock(&mu_);
  for (auto& [id, conn] : by_id_) {
    if (conn.closing) continue;
    if (conn.ruleless && now - conn.accepted >= kRulelessLifetime) {
      spdlog::debug("connection {} (uid={} pid={}) matches no policy rule; closed", id,
                    conn.peer.uid, conn.peer.pid);
    } else if (!conn.called && now - conn.accepted >= first_call_timeout_) {
      spdlog::warn(
          "connection {} (uid={} pid={}) made no call within {}; closed (a caller that connects "
          "and sends nothing, or stops inside a frame)",
          id, conn.peer.uid, conn.peer.pid, absl::FormatDuration(first_call_timeout_));
    } else if (conn.called && idle_connection_timeout_ > absl::ZeroDuration() &&
               now - conn.last_call >= idle_connection_timeout_) {
      spdlog::info(
          "connection {} (uid={} pid={}) made no call for {}; closed (idle_connection_timeout)", id,
          conn.peer.uid, conn.peer.pid, absl::FormatDuration(idle_connection_timeout_));
    } else {
      continue;
    }
    // Shutting down the socket (through our duplicate) ends gRPC's side too; EPOLLRDHUP on the
    // duplicate then runs closed() as for any other connection.
    shutdown(conn.dup_fd, SHUT_RDWR);
    conn.closing = true;
    if (!conn.called) {
      conn.called = true;  // not counted as waiting any more
      --not_called_;
    }
  }
}

size_t Listener::connection_count() const {
  absl::MutexLock lock(&mu_);
  return by_id_.size();
}

}  // namespace gssgate::daemon
