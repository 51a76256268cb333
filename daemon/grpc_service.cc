#include "daemon/grpc_service.h"

#include "absl/strings/str_cat.h"
#include "lib/util/protocol.h"
#include "spdlog/spdlog.h"

namespace gssgate::daemon {

grpc::Status to_grpc(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  // absl and gRPC share the canonical code numbering.
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

std::optional<Peer> GrpcService::peer_for(const std::string& grpc_peer) const {
  for (const Listener* listener : listeners_) {
    if (std::optional<Peer> peer = listener->peer_for(grpc_peer)) return peer;
  }
  return std::nullopt;
}

template <typename Request, typename Reply>
grpc::Status GrpcService::dispatch(
    Rpc id, const char* rpc, grpc::ServerContext* context, const Request& request, Reply* reply,
    absl::Status (daemon::Service::*handler)(const Call&, const Request&, Reply*)) {
  std::optional<Peer> peer = peer_for(context->peer());
  if (!peer) {
    // Only connections accepted by our own loop reach the server, so this is a bug, not a caller.
    spdlog::error("{}: call from unregistered peer \"{}\" refused", rpc, context->peer());
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "caller identity unknown; reconnect");
  }
  // Handles the caller let go of since its last call, released first (before the per-uid cap
  // and a cancellation, so a call refused for either still frees them, and before the handler, so
  // they never count against max_handles). Every entry of the metadata counts.
  const auto [first_release, end_release] =
      context->client_metadata().equal_range(kReleaseMetadata);
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
    absl::Status released = dispatcher_->release(*peer, rpc, releases);
    if (!released.ok()) return to_grpc(released);
    context->AddTrailingMetadata(kReleasedMetadata, "1");
  }
  if (context->IsCancelled()) {
    return grpc::Status(grpc::StatusCode::CANCELLED, "the call was cancelled before it ran");
  }
  Dispatcher::Result result = dispatcher_->run(id, rpc, *peer, request, reply, handler);
  if (result.not_run) context->AddTrailingMetadata(kNotRunMetadata, "1");
  return to_grpc(result.status);
}

#define GSSGATE_DEFINE_GRPC_METHOD(Name)                                                         \
  grpc::Status GrpcService::Name(grpc::ServerContext* context, const v1::Name##Request* request, \
                                 v1::Name##Reply* reply) {                                       \
    return dispatch(Rpc::k##Name, #Name, context, *request, reply, &daemon::Service::Name);      \
  }
GSSGATE_RPCS(GSSGATE_DEFINE_GRPC_METHOD)
#undef GSSGATE_DEFINE_GRPC_METHOD

}  // namespace gssgate::daemon
