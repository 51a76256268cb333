#pragma once

// The thin gRPC adapter over the transport-independent handlers (service.h): it resolves the
// caller from the connection (listener.h), refuses callers without a policy rule, runs the
// handler, and turns its absl::Status into a grpc::Status. GSS work runs on gRPC's sync-server
// worker threads, never inside a completion-queue reaction.

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "daemon/listener.h"
#include "daemon/metrics.h"
#include "daemon/service.h"
#include "gssgate/v1/gssgate.grpc.pb.h"

namespace gssgate::daemon {

grpc::Status to_grpc(const absl::Status& status);

class GrpcService final : public v1::Gssgate::Service {
 public:
  // `metrics` (may be null) records every call.
  GrpcService(daemon::Service* service, const Listener* listener, Metrics* metrics = nullptr)
      : service_(service), listener_(listener), metrics_(metrics) {}

  // Calls one uid may have running at once (0: no limit); more are RESOURCE_EXHAUSTED at once.
  // main() sets a quarter of max_threads, so one caller's slow calls cannot take every thread.
  void set_max_calls_per_uid(int max) { max_calls_per_uid_ = max; }

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

  // Counts the call in for `uid`; false (and nothing counted) when it already runs the most.
  bool enter(uid_t uid);
  void leave(uid_t uid);

  daemon::Service* service_;
  const Listener* listener_;
  Metrics* metrics_;
  int max_calls_per_uid_ = 0;
  absl::Mutex calls_mu_;
  absl::flat_hash_map<uid_t, int> calls_ ABSL_GUARDED_BY(calls_mu_);
};

}  // namespace gssgate::daemon
