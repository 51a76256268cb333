#include "daemon/handlers/common.h"
#include "lib/util/status_macros.h"

namespace gssgate::daemon {

// gss_indicate_mechs.
absl::Status Service::IndicateMechs(const Call&, const v1::IndicateMechsRequest&,
                                    v1::IndicateMechsReply* reply) {
  std::vector<gss::Oid> mechs;
  gss::GssStatus status = gss::indicate_mechs(&mechs);
  to_proto(status, reply->mutable_status());
  for (const gss::Oid& mech : mechs) reply->add_mechs(mech.der());
  return absl::OkStatus();
}

}  // namespace gssgate::daemon
