#include "gssgate/connection.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <atomic>
#include <cstdlib>
#include <mutex>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "client/src/internal.h"
#include "client/src/wire_channel.h"
#include "lib/util/protocol.h"

namespace gssgate {

struct Connection::Impl {
  std::string socket;
  std::chrono::milliseconds timeout;
  bool defer_releases = true;
  Transport transport = Transport::kGrpc;
  std::shared_ptr<grpc::Channel> channel;  // gRPC
  std::unique_ptr<v1::Gssgate::Stub> stub;  // gRPC
  std::unique_ptr<internal::WireChannel> wire;
  std::atomic<uint64_t> calls{0};
  // Handles released since the last call, for the next one to carry.
  std::mutex release_mu;
  v1::Releases pending;
};

namespace {
// Releases that may wait for a call to carry them; one more goes out as a call of its own.
constexpr int kMaxDeferredReleases = 64;
// Releases one call carries at most, ones given back by refused calls included (begin_call()):
// below the daemon's limit (256 per call) and, at ~20 bytes a handle, gRPC's 8 KiB metadata
// default.
constexpr int kMaxCarriedReleases = 2 * kMaxDeferredReleases;

std::string default_socket() {
  const char* env = std::getenv("GSSGATE_SOCKET");
  return env != nullptr && *env != '\0' ? env : "/run/gssgate/gssgate.sock";
}

}  // namespace

Connection::Connection(ConnectionOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->socket = options.socket.empty() ? default_socket() : options.socket;
  impl_->timeout = options.timeout;
  impl_->defer_releases = options.defer_releases;
  absl::string_view path = impl_->socket;
  Transport transport = options.transport;
  if (absl::ConsumePrefix(&path, kWireScheme)) {
    if (transport == Transport::kAuto) transport = Transport::kWire;
  } else if (absl::ConsumePrefix(&path, "unix:")) {
    if (transport == Transport::kAuto) transport = Transport::kGrpc;
  }
  int connected = -1;
  if (transport == Transport::kAuto) {
    // The socket's type tells, when the daemon is up: the probe is the wire connection itself,
    // and a stream (gRPC) socket refuses it with EPROTOTYPE before anything is accepted.
    connected = internal::WireChannel::connect_socket(std::string(path));
    transport = connected >= 0 || (errno != EPROTOTYPE && absl::EndsWith(path, ".wire"))
                    ? Transport::kWire
                    : Transport::kGrpc;
  }
  impl_->transport = transport;
  if (transport == Transport::kWire) {
    impl_->wire = std::make_unique<internal::WireChannel>(std::string(path));
    if (connected >= 0) impl_->wire->adopt(connected);
    return;
  }
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  // One channel per Connection: gRPC multiplexes concurrent calls over it, and the daemon binds
  // handles to this connection. A subchannel pool of its own, or gRPC would let every Connection
  // of the process with the same socket share one socket (and so one set of handles).
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  impl_->channel = grpc::CreateCustomChannel(absl::StrCat("unix:", path),
                                             grpc::InsecureChannelCredentials(), args);
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

Transport Connection::transport() const { return impl_->transport; }

uint64_t Connection::calls() const { return impl_->calls.load(std::memory_order_relaxed); }

v1::Gssgate::Stub& internal::ConnectionAccess::stub(const Connection& c) { return *c.impl_->stub; }

bool internal::ConnectionAccess::wire(const Connection& c) { return c.impl_->wire != nullptr; }

v1::Releases internal::ConnectionAccess::begin_call(const Connection& c) {
  c.impl_->calls.fetch_add(1, std::memory_order_relaxed);
  v1::Releases releases;
  std::lock_guard<std::mutex> lock(c.impl_->release_mu);
  v1::Releases& pending = c.impl_->pending;
  if (pending.contexts().empty() && pending.creds().empty()) return releases;
  if (pending.contexts_size() + pending.creds_size() <= kMaxCarriedReleases) {
    releases.Swap(&pending);
  } else {
    // Calls refused under load gave theirs back (requeue): one call carries at most
    // kMaxCarriedReleases, the rest wait for the next, so the daemon's limit is never passed
    // however many refusals pile up.
    for (int i = 0; i < kMaxCarriedReleases; ++i) {
      const bool context = !pending.contexts().empty();
      auto* from = context ? pending.mutable_contexts() : pending.mutable_creds();
      *(context ? releases.add_contexts() : releases.add_creds()) = std::move(*from->rbegin());
      from->RemoveLast();
    }
  }
  return releases;
}

void internal::ConnectionAccess::requeue(const Connection& c, v1::Releases carried) {
  if (carried.contexts().empty() && carried.creds().empty()) return;
  std::lock_guard<std::mutex> lock(c.impl_->release_mu);
  c.impl_->pending.MergeFrom(carried);
}

internal::CallStatus internal::ConnectionAccess::wire_call(
    const Connection& c, uint32_t number, const google::protobuf::Message& request,
    const v1::Releases& carried, google::protobuf::Message* reply,
    std::chrono::system_clock::time_point deadline) {
  WireChannel::Result result = c.impl_->wire->call(number, request, carried, reply, deadline);
  return {grpc::Status(static_cast<grpc::StatusCode>(result.code), std::move(result.message)),
          result.released, result.not_run};
}

uint32_t internal::wire_method_number(const google::protobuf::Descriptor* request_type) {
  const google::protobuf::ServiceDescriptor* service =
      request_type->file()->FindServiceByName("Gssgate");
  for (int i = 0; service != nullptr && i < service->method_count(); ++i) {
    if (service->method(i)->input_type() == request_type) return static_cast<uint32_t>(i + 1);
  }
  return 0;  // the daemon answers UNIMPLEMENTED
}

void internal::prepare_grpc(grpc::ClientContext* ctx, const v1::Releases& carried,
                            std::chrono::system_clock::time_point deadline) {
  ctx->set_deadline(deadline);
  if (!carried.contexts().empty() || !carried.creds().empty()) {
    ctx->AddMetadata(kReleaseMetadata, carried.SerializeAsString());
  }
}

internal::CallStatus internal::grpc_outcome(const grpc::ClientContext& ctx,
                                            grpc::Status status) {
  const auto& trailing = ctx.GetServerTrailingMetadata();
  // Ours, or gRPC's sync server refusing for want of a thread (its thread quota, max_threads):
  // either way the method never ran.
  const bool not_run = status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED &&
                       (trailing.contains(kNotRunMetadata) ||
                        status.error_message() == "Server Threadpool Exhausted");
  return {std::move(status), trailing.contains(kReleasedMetadata), not_run};
}

bool internal::retry_after_not_run(CallStatus* result, int attempt,
                                   std::chrono::system_clock::time_point started,
                                   std::chrono::system_clock::time_point deadline) {
  if (!result->not_run) return false;
  grpc::Status* status = &result->status;
  // 1 ms doubling to 64 ms, each with up to half again of jitter so that refused callers do not
  // come back in step.
  static thread_local std::minstd_rand jitter(std::random_device{}());
  const auto base = std::chrono::milliseconds(1) * (1 << std::min(attempt, 6));
  const auto wait = base + std::chrono::microseconds(
                               jitter() % (std::chrono::microseconds(base).count() / 2 + 1));
  if (std::chrono::system_clock::now() + wait >= deadline) {
    *status = grpc::Status(
        status->error_code(),
        absl::StrCat(status->error_message(), " (libgssgate made the call ", attempt + 1,
                     " times over ",
                     std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now() - started)
                         .count(),
                     " ms, until its deadline)"));
    return false;
  }
  std::this_thread::sleep_for(wait);
  return true;
}

void internal::ConnectionAccess::release(const Connection& c, HandleKind kind,
                                         std::string handle) noexcept {
  if (handle.empty()) return;
  try {
    if (c.impl_->defer_releases) {
      std::lock_guard<std::mutex> lock(c.impl_->release_mu);
      v1::Releases& pending = c.impl_->pending;
      // Room is left below the daemon's per-call limit (256) and gRPC's 8 KiB metadata default.
      if (pending.contexts_size() + pending.creds_size() < kMaxDeferredReleases) {
        *(kind == HandleKind::kCred ? pending.add_creds() : pending.add_contexts()) =
            std::move(handle);
        return;
      }
    }
    if (kind == HandleKind::kCred) {
      v1::ReleaseCredRequest request;
      request.set_creds(std::move(handle));
      v1::ReleaseCredReply reply;
      call(c, &v1::Gssgate::Stub::ReleaseCred, request, &reply);
    } else {
      v1::DeleteSecContextRequest request;
      request.set_context(std::move(handle));
      v1::DeleteSecContextReply reply;
      call(c, &v1::Gssgate::Stub::DeleteSecContext, request, &reply);
    }
  } catch (...) {
    // Best effort (the daemon is gone, say): it drops the handle when the connection closes.
  }
}

}  // namespace gssgate
