#pragma once

/// @file
/// The connection to gssgated. Thread-safe: many threads may call through one Connection at
/// once (gRPC multiplexes the calls; there is no lock around them).

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace gssgate {

namespace internal {
struct ConnectionAccess;
}

struct ConnectionOptions {
  /// Unix socket path; empty: $GSSGATE_SOCKET, else /run/gssgate/gssgate.sock.
  std::string socket;
  /// Deadline of every call.
  std::chrono::milliseconds timeout = std::chrono::seconds(30);
  /// Release contexts and credentials with the next call rather than a call of their own (the
  /// daemon releases them before it runs that call; docs/client.md, "Round trips"). Off: each
  /// release is a DeleteSecContext or ReleaseCred call when the object goes, as in MIT.
  bool defer_releases = true;
};

class Connection {
 public:
  explicit Connection(ConnectionOptions options = {});
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  /// The process-wide connection used when none is given (created on first use, from
  /// $GSSGATE_SOCKET or the default path).
  static std::shared_ptr<Connection> shared_default();

  const std::string& socket() const;
  std::chrono::milliseconds timeout() const;

  /// Calls made through this connection so far (every RPC, releases of their own included): what
  /// a handshake or a message costs in round trips.
  uint64_t calls() const;

 private:
  friend struct internal::ConnectionAccess;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace gssgate
