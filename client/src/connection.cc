#include "gssgate/connection.h"

#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "client/src/internal.h"

namespace gssgate {
namespace {

constexpr int kMaxReleasesInFlight = 64;

// Releases in flight, per connection and process-wide.
struct ReleaseCount {
  std::mutex mu;
  std::condition_variable changed;
  int in_flight = 0;

  void add(int max) {
    std::unique_lock<std::mutex> lock(mu);
    changed.wait(lock, [&] { return in_flight < max; });
    ++in_flight;
  }
  void done() {
    std::lock_guard<std::mutex> lock(mu);
    --in_flight;
    changed.notify_all();  // under the lock: a waiter may destroy this object once it returns
  }
  void wait_for_zero() {
    std::unique_lock<std::mutex> lock(mu);
    changed.wait(lock, [&] { return in_flight == 0; });
  }
};

ReleaseCount& process_releases() {
  static ReleaseCount* count = new ReleaseCount;  // never destroyed, like the queue below
  return *count;
}

// One release RPC in flight; deletes itself when its reply (or error) is taken from the queue.
struct PendingRelease {
  virtual ~PendingRelease() = default;
  grpc::ClientContext ctx;
  grpc::Status status;
  ReleaseCount* connection_count = nullptr;
};

template <typename Request, typename Reply>
struct PendingReleaseOf : PendingRelease {
  Request request;
  Reply reply;
  std::unique_ptr<grpc::ClientAsyncResponseReader<Reply>> rpc;
};

// The process's queue for release replies, drained by one thread. Created on first use and
// never destroyed: its thread may still wait on it while static destructors run at exit.
grpc::CompletionQueue& release_queue() {
  static grpc::CompletionQueue* queue = [] {
    auto* q = new grpc::CompletionQueue;
    std::thread([q] {
      void* tag = nullptr;
      bool ok = false;
      while (q->Next(&tag, &ok)) {
        auto* pending = static_cast<PendingRelease*>(tag);
        ReleaseCount* count = pending->connection_count;
        delete pending;
        count->done();  // last: the connection may be destroyed as soon as this returns
        process_releases().done();
      }
    }).detach();
    return q;
  }();
  return *queue;
}

}  // namespace

struct Connection::Impl {
  std::string socket;
  std::chrono::milliseconds timeout;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::Gssgate::Stub> stub;
  ReleaseCount releases;

  // The stub and channel go only after every release sent through them is answered.
  ~Impl() { releases.wait_for_zero(); }

  template <typename Request, typename Reply>
  void release(Request request,
               std::unique_ptr<grpc::ClientAsyncResponseReader<Reply>> (v1::Gssgate::Stub::*start)(
                   grpc::ClientContext*, const Request&, grpc::CompletionQueue*)) {
    grpc::CompletionQueue& queue = release_queue();
    releases.add(kMaxReleasesInFlight);
    process_releases().add(1 << 30);
    auto* pending = new PendingReleaseOf<Request, Reply>;
    pending->connection_count = &releases;
    pending->request = std::move(request);
    pending->ctx.set_deadline(std::chrono::system_clock::now() + timeout);
    pending->rpc = ((*stub).*start)(&pending->ctx, pending->request, &queue);
    pending->rpc->Finish(&pending->reply, &pending->status, pending);
  }
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

void internal::ConnectionAccess::release_context(const Connection& c, std::string handle) {
  v1::DeleteSecContextRequest request;
  request.set_context(std::move(handle));
  c.impl_->release(std::move(request), &v1::Gssgate::Stub::AsyncDeleteSecContext);
}

void internal::ConnectionAccess::release_cred(const Connection& c, std::string handle) {
  v1::ReleaseCredRequest request;
  request.set_creds(std::move(handle));
  c.impl_->release(std::move(request), &v1::Gssgate::Stub::AsyncReleaseCred);
}

void internal::ConnectionAccess::wait_for_releases() { process_releases().wait_for_zero(); }

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
