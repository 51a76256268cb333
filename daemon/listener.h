#pragma once

// The daemon's own accept loop. gRPC 1.51 cannot tell a handler who is calling over a Unix socket,
// so gssgated accepts connections itself, reads the kernel's SO_PEERCRED/SO_PEERGROUPS for each,
// records them by fd, and only then hands the fd to gRPC (grpc::AddInsecureChannelFromFd). A call's
// ServerContext::peer() is "fd:N", which peer_for() maps back to the record. gRPC gives no close
// callback, so a F_DUPFD_CLOEXEC duplicate of each fd sits in an epoll set watching EPOLLRDHUP:
// when the caller's end closes (the process exited or dropped the connection) on_closed runs with
// the connection's id. A pidfd of the connecting process sits in the same set: when that process
// exits its handles go even if a child it forked still holds the connection open (the connection
// itself stays usable; what the child creates afterwards goes when the connection closes).
//
// Thread-safety: peer_for() and connection_count() may be called from any thread; start() and
// stop() from one controlling thread.

#include <sys/socket.h>
#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "daemon/config.h"
#include "daemon/peer.h"
#include "daemon/policy.h"

namespace gssgate::daemon {

class Listener {
 public:
  // Creates, binds and listens on listener.path, with its mode and group: a stream socket for
  // gRPC, a SOCK_SEQPACKET one for the wire transport. A stale socket left by a dead daemon is
  // replaced; a live one (something accepts on it) is an error, as is a non-socket file at the
  // path. With `inherited_fd` >= 0 (systemd socket activation) that listening socket is used as
  // is. `settings`: the timeouts, which apply to every listener.
  static absl::StatusOr<std::unique_ptr<Listener>> create(const ListenerSettings& listener,
                                                          const DaemonSettings& settings,
                                                          int inherited_fd = -1);
  ~Listener();

  // Starts the accept/epoll thread. `hand_off` gives an accepted, recorded fd to the RPC server
  // (which then owns it); `on_gone` runs on the listener thread when a connection ends or its
  // process exits, with the reason ("connection N closed", "process exited").
  // `closed`: the connection ended (else its process exited and the connection may live on in a
  // child that inherited it).
  using GoneCallback = std::function<void(const Peer&, bool closed, const std::string& why)>;
  // `has_rule` (optional; policy.h, admit) says whether the policy has a rule for a caller, asked
  // again once the process has been read when it answers kNeedsProcess. A connection of a
  // caller without one is not counted in max_connections or max_connections_per_uid: it may make
  // its one call (answered PERMISSION_DENIED by the service) and is closed kRulelessLifetime after
  // accept; at most kMaxRuleless such connections are open at once, more are closed at accept. So
  // callers without a rule cannot take the slots of callers with one.
  using Admission = ::gssgate::daemon::Admission;
  using HasRule = std::function<Admission(const Peer&)>;
  void start(std::function<void(int fd)> hand_off, GoneCallback on_gone,
             HasRule has_rule = nullptr);
  static constexpr int kMaxRuleless = 16;
  static constexpr absl::Duration kRulelessLifetime = absl::Seconds(2);
  // Stops accepting and joins the thread; existing connections stay with the RPC server.
  void stop();

  // The caller behind a gRPC peer string "fd:N"; nullopt if it is not one of ours.
  std::optional<Peer> peer_for(const std::string& grpc_peer) const;
  // The caller behind an accepted descriptor (the wire transport's); nullopt if not one of ours.
  // Either marks the connection as having called (first-call and idle timeouts).
  std::optional<Peer> peer_for_fd(int fd) const;
  size_t connection_count() const;
  const std::string& name() const { return name_; }
  const std::string& path() const { return path_; }
  ListenerSettings::Transport transport() const { return transport_; }

 private:
  Listener(int listen_fd, const ListenerSettings& listener, const DaemonSettings& settings,
           bool unlink_on_exit);
  void loop();
  void accept_one();
  // accept4 failed with EMFILE/ENFILE: accepts the pending connection through the reserve
  // descriptor and closes it. False when there was nothing to accept.
  bool refuse_for_lack_of_fds(int error);
  void warn_out_of_fds(int error) const;
  // Shuts down connections that have made no call within first_call_timeout_, rule-less ones
  // older than kRulelessLifetime, and ones idle for idle_connection_timeout_ (gRPC then closes
  // them, and closed() runs as for any other).
  void sweep();
  // Logs, at most once a second, that the pool of rule-less connections is full.
  void warn_ruleless_full(const Peer& peer);
  // How long the loop may sleep before sweep() has work: -1 = until an event.
  int sweep_interval_ms() const;
  void closed(uint64_t connection);
  void process_exited(uint64_t connection);

  int listen_fd_;
  std::string name_;
  std::string path_;
  ListenerSettings::Transport transport_;
  int max_connections_;
  int max_connections_per_uid_;
  absl::Duration first_call_timeout_;
  absl::Duration idle_connection_timeout_;  // zero: never
  bool unlink_on_exit_;
  HasRule has_rule_;
  absl::Time last_ruleless_warning_ = absl::InfinitePast();  // listener thread only
  int epoll_fd_ = -1;
  int stop_fd_ = -1;  // eventfd that wakes the loop for stop()
  // /dev/null, held so that when the process runs out of descriptors one can be freed to accept
  // and close a pending connection: otherwise the listening socket stays readable and the loop
  // spins while the caller hangs in the backlog.
  int reserve_fd_ = -1;
  std::thread thread_;
  std::function<void(int)> hand_off_;
  GoneCallback on_gone_;

  struct Conn {
    int fd;      // the number gRPC knows it by
    int dup_fd;  // our duplicate in the epoll set
    int pidfd;   // the connecting process, -1 once it exited or if pidfd_open failed
    Peer peer;
    absl::Time accepted;
    bool called = false;    // a call has been dispatched (peer_for); then no first-call timeout
    absl::Time last_call;   // when the last call was dispatched (the idle timeout's start)
    bool ruleless = false;  // no rule matched at accept: closed after kRulelessLifetime
    bool closing = false;   // shut down by sweep(); closed() follows
    dev_t dev = 0;          // the accepted socket's device and inode: peer_for() checks that fd
    ino_t ino = 0;          // still names this socket
  };
  mutable absl::Mutex mu_;
  absl::flat_hash_map<int, Peer> by_fd_ ABSL_GUARDED_BY(mu_);
  // mutable: peer_for() marks a connection as having called.
  mutable absl::flat_hash_map<uint64_t, Conn> by_id_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<uid_t, int> per_uid_ ABSL_GUARDED_BY(mu_);
  // Connections still waiting for their first call.
  mutable size_t not_called_ ABSL_GUARDED_BY(mu_) = 0;
  // Open connections of callers without a rule (not in per_uid_ or the max_connections count).
  int ruleless_ ABSL_GUARDED_BY(mu_) = 0;
};

// A listening socket systemd passed (sd_listen_fds_with_names(3)): LISTEN_FDS descriptors from
// 3, named by LISTEN_FDNAMES (FileDescriptorName=, else the socket unit's name).
struct InheritedSocket {
  int fd = -1;
  std::string name;
  int type = 0;                // SO_TYPE: SOCK_STREAM, SOCK_SEQPACKET
  std::string path;            // the bound path, "" if none
  bool unix_listening = true;  // SO_DOMAIN AF_UNIX and SO_ACCEPTCONN
};
// The sockets passed to this process (LISTEN_PID is ours); empty when none. Marks them
// close-on-exec.
std::vector<InheritedSocket> inherited_sockets();
// Which passed socket each listener serves: `taken`, by index of `listeners`, the socket or nullopt
// for a listener that makes its own. A socket goes to the listener its name names (its path must
// be the listener's), else to the one at its path, of the same transport. Listeners made from
// [daemon] (no [[listener]] in the file) also take sockets by type alone, as gssgated did before
// listeners, and leave those they have no use for in `unused` (to be closed).
// FAILED_PRECONDITION naming the socket when it is no listening Unix socket, names a listener at
// another path, no listener takes it, or two go to one listener.
struct InheritedMatch {
  std::vector<std::optional<InheritedSocket>> taken;
  std::vector<InheritedSocket> unused;
};
absl::StatusOr<InheritedMatch> match_inherited(const std::vector<ListenerSettings>& listeners,
                                               const std::vector<InheritedSocket>& sockets);

}  // namespace gssgate::daemon
