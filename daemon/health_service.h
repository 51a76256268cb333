#pragma once

// grpc.health.v1.Health as a sync service. gRPC's built-in one (EnableDefaultHealthCheckService)
// is a callback service, and registering any callback service makes the server run a callback
// completion queue beside its sync ones: every call, gssgated's own included, then paid about
// 9-40 µs more on a 2-core machine (a bare echo behind the same accept path, p50 over four
// runs: 165 → 189, 137 → 160, 135 → 144, 167 → 207 µs;
// docs/performance.md, "Where a call's time goes").
//
// Check answers SERVING for "" and "gssgate.v1.Gssgate" until draining() is called (SIGTERM;
// new connections are refused from then on, so only calls already on their way see NOT_SERVING),
// and NOT_FOUND for any other service, as the protocol says. Watch answers
// UNIMPLEMENTED, which the protocol allows (clients then fall back to Check): a sync Watch would
// hold one of max_threads for as long as any caller keeps the stream open, which a caller could
// use to take every thread.
//
// Thread-safety: Check and draining() may run concurrently.

#include <atomic>

#include "grpc/health/v1/health.grpc.pb.h"

namespace gssgate::daemon {

class HealthService final : public grpc::health::v1::Health::Service {
 public:
  grpc::Status Check(grpc::ServerContext* context, const grpc::health::v1::HealthCheckRequest* request,
                     grpc::health::v1::HealthCheckResponse* response) override;
  // From now on Check says NOT_SERVING (the daemon is shutting down).
  void draining() { draining_ = true; }

 private:
  std::atomic<bool> draining_{false};
};

}  // namespace gssgate::daemon
