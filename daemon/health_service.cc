#include "daemon/health_service.h"

#include "absl/strings/str_cat.h"

namespace gssgate::daemon {

grpc::Status HealthService::Check(grpc::ServerContext*,
                                  const grpc::health::v1::HealthCheckRequest* request,
                                  grpc::health::v1::HealthCheckResponse* response) {
  using Response = grpc::health::v1::HealthCheckResponse;
  if (!request->service().empty() && request->service() != "gssgate.v1.Gssgate") {
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        absl::StrCat("unknown service \"", request->service(),
                                     "\"; gssgated serves \"gssgate.v1.Gssgate\" (or ask for \"\")"));
  }
  response->set_status(draining_ ? Response::NOT_SERVING : Response::SERVING);
  return grpc::Status::OK;
}

}  // namespace gssgate::daemon
