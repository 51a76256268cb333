#pragma once

// The thin gRPC adapter over the transport-independent handlers (service.h): it resolves the
// caller from the connection (listener.h), reads the releases the call carries from its metadata,
// and hands the call to the Dispatcher (dispatch.h) it shares with the wire transport. GSS work
// runs on gRPC's sync-server worker threads, never inside a completion-queue reaction.

#include "daemon/dispatch.h"
#include "daemon/listener.h"
#include "daemon/service.h"
#include "gssgate/v1/gssgate.grpc.pb.h"

namespace gssgate::daemon {

grpc::Status to_grpc(const absl::Status& status);

class GrpcService final : public v1::Gssgate::Service {
 public:
  GrpcService(Dispatcher* dispatcher, const Listener* listener)
      : dispatcher_(dispatcher), listener_(listener) {}

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

  Dispatcher* dispatcher_;
  const Listener* listener_;
};

}  // namespace gssgate::daemon
