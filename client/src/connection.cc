#include "gssgate/connection.h"

#include <cstdlib>
#include <mutex>

#include "client/src/internal.h"

namespace gssgate {

struct Connection::Impl {
  std::string socket;
  std::chrono::milliseconds timeout;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::Gssgate::Stub> stub;
};

namespace {
std::string default_socket() {
  const char* env = std::getenv("GSSGATE_SOCKET");
  return env != nullptr && *env != '\0' ? env : "/run/gssgate/gssgate.sock";
}
}  // namespace

Connection::Connection(ConnectionOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->socket = options.socket.empty() ? default_socket() : options.socket;
  impl_->timeout = options.timeout;
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  // One channel per Connection: gRPC multiplexes concurrent calls over it, and the daemon binds
  // handles to this connection. A subchannel pool of its own, or gRPC would let every Connection
  // of the process with the same socket share one socket (and so one set of handles).
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  impl_->channel =
      grpc::CreateCustomChannel("unix:" + impl_->socket, grpc::InsecureChannelCredentials(), args);
  impl_->stub = v1::Gssgate::NewStub(impl_->channel);
}

Connection::~Connection() = default;

std::shared_ptr<Connection> Connection::shared_default() {
  static std::mutex mu;
  static std::shared_ptr<Connection> shared;
  std::lock_guard<std::mutex> lock(mu);
  if (!shared) shared = std::make_shared<Connection>();
  return shared;
}

const std::string& Connection::socket() const { return impl_->socket; }
std::chrono::milliseconds Connection::timeout() const { return impl_->timeout; }

v1::Gssgate::Stub& internal::ConnectionAccess::stub(const Connection& c) { return *c.impl_->stub; }

}  // namespace gssgate
