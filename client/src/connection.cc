#include "gssgate/connection.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <mutex>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "client/src/internal.h"
#include "lib/util/protocol.h"

namespace gssgate {

struct Connection::Impl {
  std::string socket;
  std::chrono::milliseconds timeout;
  bool defer_releases = true;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::Gssgate::Stub> stub;
  std::atomic<uint64_t> calls{0};
  // Handles released since the last call, for the next one to carry.
  std::mutex release_mu;
  v1::Releases pending;
};

namespace {
// Releases that may wait for a call to carry them; one more goes out as a call of its own.
constexpr int kMaxDeferredReleases = 64;
// Releases one call carries at most, ones given back by refused calls included (prepare()):
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

uint64_t Connection::calls() const { return impl_->calls.load(std::memory_order_relaxed); }

v1::Gssgate::Stub& internal::ConnectionAccess::stub(const Connection& c) { return *c.impl_->stub; }

v1::Releases internal::ConnectionAccess::prepare(
    const Connection& c, grpc::ClientContext* ctx,
    std::optional<std::chrono::system_clock::time_point> deadline) {
  ctx->set_deadline(deadline ? *deadline : std::chrono::system_clock::now() + c.impl_->timeout);
  c.impl_->calls.fetch_add(1, std::memory_order_relaxed);
  v1::Releases releases;
  {
    std::lock_guard<std::mutex> lock(c.impl_->release_mu);
    v1::Releases& pending = c.impl_->pending;
    if (pending.contexts().empty() && pending.creds().empty()) return releases;
    if (pending.contexts_size() + pending.creds_size() <= kMaxCarriedReleases) {
      releases.Swap(&pending);
    } else {
      // Calls refused under load gave theirs back (requeue_unless_released): one call carries
      // at most kMaxCarriedReleases, the rest wait for the next, so the daemon's limit is never
      // passed however many refusals pile up.
      for (int i = 0; i < kMaxCarriedReleases; ++i) {
        const bool context = !pending.contexts().empty();
        auto* from = context ? pending.mutable_contexts() : pending.mutable_creds();
        *(context ? releases.add_contexts() : releases.add_creds()) = std::move(*from->rbegin());
        from->RemoveLast();
      }
    }
  }
  ctx->AddMetadata(kReleaseMetadata, releases.SerializeAsString());
  return releases;
}

void internal::ConnectionAccess::requeue_unless_released(const Connection& c,
                                                         const grpc::ClientContext& ctx,
                                                         v1::Releases carried) {
  if (carried.contexts().empty() && carried.creds().empty()) return;
  if (ctx.GetServerTrailingMetadata().contains(kReleasedMetadata)) return;
  std::lock_guard<std::mutex> lock(c.impl_->release_mu);
  c.impl_->pending.MergeFrom(carried);
}

bool internal::retry_after_not_run(const grpc::ClientContext& ctx, grpc::Status* status,
                                   int attempt, std::chrono::system_clock::time_point started,
                                   std::chrono::system_clock::time_point deadline) {
  // Ours, or gRPC's sync server refusing for want of a thread (its thread quota, max_threads):
  // either way the method never ran.
  if (status->error_code() != grpc::StatusCode::RESOURCE_EXHAUSTED ||
      (!ctx.GetServerTrailingMetadata().contains(kNotRunMetadata) &&
       status->error_message() != "Server Threadpool Exhausted")) {
    return false;
  }
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
