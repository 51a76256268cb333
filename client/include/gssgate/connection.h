#pragma once

/// @file
/// The connection to gssgated. Thread-safe: many threads may call through one Connection at
/// once (gRPC multiplexes the calls; there is no lock around them).

#include <chrono>
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

 private:
  friend struct internal::ConnectionAccess;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace gssgate
