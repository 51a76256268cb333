#include "daemon/handlers/common.h"
#include "lib/util/status_macros.h"

namespace gssgate::daemon {

// gss_compare_name.
absl::Status Service::CompareName(const Call& call, const v1::CompareNameRequest& request,
                                  v1::CompareNameReply* reply) {
  gss::NameHandle first, second;
  gss::GssStatus status;
  GSSGATE_RETURN_IF_ERROR(import_wire_name(call, request.first(), "first", &first, &status));
  if (status.ok()) {
    GSSGATE_RETURN_IF_ERROR(import_wire_name(call, request.second(), "second", &second, &status));
  }
  bool equal = false;
  if (status.ok()) status = gss::compare_names(first, second, &equal);
  to_proto(status, reply->mutable_status());
  reply->set_equal(status.ok() && equal);
  return absl::OkStatus();
}

}  // namespace gssgate::daemon
