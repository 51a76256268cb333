#pragma once

/// @file
/// The connection to gssgated. Thread-safe: many threads may call through one Connection at
/// once (over gRPC they run concurrently; over the wire transport one at a time, in order).

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace gssgate {

namespace internal {
struct ConnectionAccess;
}

/// How calls reach gssgated (docs/wire.md).
enum class Transport {
  /// From the socket: a "wire:" or "unix:" prefix says which; else a socket that takes a
  /// SOCK_SEQPACKET connection is the wire socket, and a path ending in ".wire" is taken as one
  /// while the daemon is not up; anything else is gRPC.
  kAuto,
  /// gRPC over the stream socket: any language, health checks, reflection.
  kGrpc,
  /// The lean framed transport over the SOCK_SEQPACKET socket: the same service, about half a
  /// gRPC call's cost per round trip.
  kWire,
};

struct ConnectionOptions {
  /// Unix socket path, optionally prefixed "wire:" (the wire socket) or "unix:" (the gRPC
  /// socket); empty: $GSSGATE_SOCKET, else /run/gssgate/gssgate.sock.
  std::string socket;
  /// Which transport; kAuto decides from `socket` as described there.
  Transport transport = Transport::kAuto;
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

  /// The socket as given (with its prefix, if any).
  const std::string& socket() const;
  std::chrono::milliseconds timeout() const;
  /// The transport in use: kGrpc or kWire, never kAuto.
  Transport transport() const;

  /// Calls made through this connection so far (every RPC, releases of their own included): what
  /// a handshake or a message costs in round trips.
  uint64_t calls() const;

 private:
  friend struct internal::ConnectionAccess;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace gssgate
