#include "daemon/grpc_service.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "lib/util/protocol.h"
#include "spdlog/spdlog.h"

namespace gssgate::daemon {

grpc::Status to_grpc(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  // absl and gRPC share the canonical code numbering.
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

bool GrpcService::enter(uid_t uid) {
  if (max_calls_per_uid_ <= 0) return true;
  absl::MutexLock lock(&calls_mu_);
  int& running = calls_[uid];
  if (running >= max_calls_per_uid_) {
    if (running == 0) calls_.erase(uid);
    return false;
  }
  ++running;
  return true;
}

void GrpcService::leave(uid_t uid) {
  if (max_calls_per_uid_ <= 0) return;
  absl::MutexLock lock(&calls_mu_);
  auto it = calls_.find(uid);
  if (it != calls_.end() && --it->second <= 0) calls_.erase(it);
}

template <typename Request, typename Reply>
grpc::Status GrpcService::dispatch(
    Rpc id, const char* rpc, grpc::ServerContext* context, const Request& request, Reply* reply,
    absl::Status (daemon::Service::*handler)(const Call&, const Request&, Reply*)) {
  const auto started = std::chrono::steady_clock::now();
  std::optional<Peer> peer = listener_->peer_for(context->peer());
  if (!peer) {
    // Only connections accepted by our own loop reach the server, so this is a bug, not a caller.
    spdlog::error("{}: call from unregistered peer \"{}\" refused", rpc, context->peer());
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "caller identity unknown; reconnect");
  }
  // Handles the caller let go of since its last call, released first (before the per-uid cap
  // and a cancellation, so a call refused for either still frees them, and before the handler, so
  // they never count against max_handles). Every entry of the metadata counts.
  const auto [first_release, end_release] = context->client_metadata().equal_range(kReleaseMetadata);
  if (first_release != end_release) {
    v1::Releases releases;
    for (auto it = first_release; it != end_release; ++it) {
      v1::Releases part;
      if (!part.ParseFromArray(it->second.data(), static_cast<int>(it->second.size()))) {
        return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                            absl::StrCat("the ", kReleaseMetadata,
                                         " metadata is not a gssgate.v1.Releases message"));
      }
      releases.MergeFrom(part);
    }
    absl::StatusOr<int> released = service_->release_deferred(*peer, releases);
    if (!released.ok()) return to_grpc(released.status());
    context->AddTrailingMetadata(kReleasedMetadata, "1");
    spdlog::debug("rpc={} uid={} conn={} deferred_releases={} released={}", rpc, peer->uid,
                  peer->connection, releases.contexts_size() + releases.creds_size(), *released);
  }
  if (context->IsCancelled()) {
    return grpc::Status(grpc::StatusCode::CANCELLED, "the call was cancelled before it ran");
  }
  if (!enter(peer->uid)) {
    context->AddTrailingMetadata(kNotRunMetadata, "1");
    if (metrics_ != nullptr) {
      metrics_->record(id, Outcome::kExhausted,
                       absl::FromChrono(std::chrono::steady_clock::now() - started), false);
    }
    return grpc::Status(
        grpc::StatusCode::RESOURCE_EXHAUSTED,
        absl::StrCat("uid ", peer->uid, " already has ", max_calls_per_uid_,
                     " calls running, its share of gssgated's threads (a quarter of "
                     "max_threads); retry when they finish"));
  }
  struct Leave {
    GrpcService* self;
    uid_t uid;
    ~Leave() { self->leave(uid); }
  } leave_on_return{this, peer->uid};
  absl::StatusOr<Call> call = service_->begin(*peer, rpc);
  absl::Status status = call.ok() ? (service_->*handler)(*call, request, reply) : call.status();
  if (metrics_ != nullptr) {
    Outcome outcome = outcome_of(status);
    bool kdc_error = false;
    if constexpr (requires { reply->status().major(); }) {
      // A calling or routine error; supplementary bits alone (e.g. a duplicate token) are not.
      if (status.ok() && (reply->status().major() & 0xffff0000u) != 0) {
        outcome = Outcome::kGssError;
        kdc_error = is_kdc_error(reply->status().minor());
      }
    }
    metrics_->record(id, outcome, absl::FromChrono(std::chrono::steady_clock::now() - started),
                     kdc_error);
  }
  if (spdlog::should_log(spdlog::level::debug)) {  // sizes cost a pass over the messages
    const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
                            std::chrono::steady_clock::now() - started)
                            .count();
    spdlog::debug("rpc={} uid={} pid={} conn={} request_bytes={} reply_bytes={} code={} us={}", rpc,
                  peer->uid, peer->pid, peer->connection, request.ByteSizeLong(),
                  reply->ByteSizeLong(), absl::StatusCodeToString(status.code()), micros);
  }
  return to_grpc(status);
}

#define GSSGATE_DEFINE_GRPC_METHOD(Name)                                                         \
  grpc::Status GrpcService::Name(grpc::ServerContext* context, const v1::Name##Request* request, \
                                 v1::Name##Reply* reply) {                                       \
    return dispatch(Rpc::k##Name, #Name, context, *request, reply, &daemon::Service::Name);      \
  }
GSSGATE_RPCS(GSSGATE_DEFINE_GRPC_METHOD)
#undef GSSGATE_DEFINE_GRPC_METHOD

}  // namespace gssgate::daemon
