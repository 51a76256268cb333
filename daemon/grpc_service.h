#pragma once

// The thin gRPC adapter over the transport-independent handlers (service.h): it resolves the
// caller from the connection (listener.h), reads the releases the call carries from its metadata,
// and hands the call to the Dispatcher (dispatch.h) it shares with the wire transport. GSS work
// runs on gRPC's sync-server worker threads, never inside a completion-queue reaction.

#include <optional>
#include <string>
#include <vector>

#include "daemon/dispatch.h"
#include "daemon/listener.h"
#include "daemon/service.h"
#include "gssgate/v1/gssgate.grpc.pb.h"

namespace gssgate::daemon {

grpc::Status to_grpc(const absl::Status& status);

class GrpcService final : public v1::Gssgate::Service {
 public:
  // `listeners`: the gRPC listeners whose connections this server is handed.
  GrpcService(Dispatcher* dispatcher, std::vector<const Listener*> listeners)
      : dispatcher_(dispatcher), listeners_(std::move(listeners)) {}

#define GSSGATE_DECLARE_GRPC_METHOD(Name)                                           \
  grpc::Status Name(grpc::ServerContext* context, const v1::Name##Request* request, \
                    v1::Name##Reply* reply) override;
  GSSGATE_RPCS(GSSGATE_DECLARE_GRPC_METHOD)
#undef GSSGATE_DECLARE_GRPC_METHOD

 private:
  template <typename Request, typename Reply>
  grpc::Status dispatch(Rpc id, const char* rpc, grpc::ServerContext* context,
                        const Request& request, Reply* reply,
                        absl::Status (daemon::Service::*handler)(const Call&, const Request&,
                                                                 Reply*));

  // The caller behind gRPC's "fd:N", from whichever listener accepted it.
  std::optional<Peer> peer_for(const std::string& grpc_peer) const;

  Dispatcher* dispatcher_;
  std::vector<const Listener*> listeners_;
};

}  // namespace gssgate::daemon
