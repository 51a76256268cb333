#pragma once

// The lean wire transport (docs/wire.md, proto/gssgate/v1/wire.proto): the gssgate.v1 service
// over a SOCK_SEQPACKET Unix socket, one Frame per datagram, beside gRPC. Connections come from
// the same daemon::Listener as gRPC's (the caller's identity, limits, timeouts and close watch),
// and every call runs through the same Dispatcher (releases, per-uid share, policy, handler,
// metrics), so the handlers are the ones gRPC calls.
//
// WireSession is the protocol without I/O (one connection's state: datagrams in, datagrams out),
// so the fuzz target drives exactly what the server runs. WireServer does the I/O: `threads`
// workers wait on one epoll set in which each connection is armed EPOLLONESHOT; the worker that
// reads a request runs it and sends the reply, so a call costs one wake-up on each side, and a
// connection's calls run one at a time, in order.
//
// Thread-safety: a WireSession belongs to one thread at a time. WireServer's add() may be called
// from any thread; start() and stop() from one controlling thread, add() only between them.

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "daemon/dispatch.h"
#include "daemon/listener.h"
#include "gssgate/v1/wire.pb.h"

namespace gssgate::daemon {

// Method number (1 + the index in `service Gssgate`) → the typed call through the Dispatcher.
class WireMethods {
 public:
  // Built from the service's descriptor and GSSGATE_RPCS; aborts if one names a method the other
  // lacks (a build that would answer UNIMPLEMENTED for a method it has).
  static const WireMethods& get();

  struct Reply {
    absl::Status status;
    bool not_run = false;
    std::string payload;  // the serialized reply when status is OK
  };
  // Runs method `number` (1-based) on `request`; UNIMPLEMENTED for an unknown number,
  // INVALID_ARGUMENT when the payload is not that method's request.
  Reply call(Dispatcher& dispatcher, const Peer& peer, uint32_t number,
             std::string_view request) const;
  size_t count() const { return typed_.size(); }
  // The method's name ("ImportName"); "" for an unknown number.
  std::string_view name(uint32_t number) const;

 private:
  WireMethods();
  using Invoke = Reply (*)(Dispatcher&, const Peer&, std::string_view request, const char* rpc);
  std::vector<Invoke> typed_;       // index = number - 1
  std::vector<std::string> names_;  // index = number - 1
};

class WireSession {
 public:
  WireSession(Dispatcher* dispatcher, int max_message_bytes)
      : dispatcher_(dispatcher), max_message_bytes_(max_message_bytes) {}

  struct Output {
    std::vector<std::string> datagrams;  // to send, in order
    bool close = false;                  // then close the connection: not our protocol
  };
  // One datagram from the caller. `truncated`: it was longer than kWireMaxDatagram (recv's
  // MSG_TRUNC), so only its start is in `datagram`.
  Output feed(const Peer& peer, std::string_view datagram, bool truncated);

  // A reply to `call_id` split into datagrams of at most kWireMaxDatagram bytes.
  static std::vector<std::string> reply_datagrams(uint32_t method, uint64_t call_id,
                                                  const absl::Status& status,
                                                  std::string_view payload, bool not_run,
                                                  bool released);

 private:
  Output fail(uint32_t method, uint64_t call_id, const absl::Status& status, bool close);
  void reset();

  Dispatcher* dispatcher_;
  int max_message_bytes_;
  // The request being assembled from fragments (between a Frame with `continued` and the last).
  bool assembling_ = false;
  bool oversize_ = false;  // its fragments went past max_message_bytes: refused at its end
  v1::Frame first_;        // its first Frame, payload moved out
  std::string payload_;
};

class WireServer {
 public:
  // The caller behind an accepted descriptor; Listener::peer_for_fd in gssgated.
  using PeerOf = std::function<std::optional<Peer>(int fd)>;
  // `min_threads` workers start with the server; when every one is busy another starts, up to
  // `max_threads` (as gRPC's sync server grows its pool).
  WireServer(Dispatcher* dispatcher, PeerOf peer_of, int max_message_bytes, int min_threads,
             int max_threads);
  ~WireServer();
  WireServer(const WireServer&) = delete;
  WireServer& operator=(const WireServer&) = delete;

  void start();
  // Serves an accepted, non-blocking connection; the server owns `fd` from here on.
  void add(int fd);
  // Stops the workers after the calls they run, then closes every connection.
  void stop();

 private:
  struct Conn {
    int fd;
    WireSession session;
  };
  void work();
  void spawn_locked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Reads and serves what `conn` has; false when the connection is done (closed by either side).
  bool serve(Conn* conn, std::vector<char>* buffer);
  // Sends every datagram, waiting (bounded) for room; false if the caller stopped reading.
  static bool send_all(int fd, const std::vector<std::string>& datagrams);
  void drop(Conn* conn);

  Dispatcher* dispatcher_;
  PeerOf peer_of_;
  int max_message_bytes_;
  int min_threads_;
  int max_threads_;
  int epoll_fd_ = -1;
  int stop_fd_ = -1;
  std::atomic<bool> stopping_{false};
  absl::Mutex mu_;
  std::vector<std::thread> workers_ ABSL_GUARDED_BY(mu_);
  std::atomic<int> idle_{0};  // workers waiting in epoll_wait
  absl::flat_hash_map<Conn*, std::unique_ptr<Conn>> conns_ ABSL_GUARDED_BY(mu_);
};

}  // namespace gssgate::daemon
