#include "daemon/handlers/common.h"
#include "lib/util/status_macros.h"

namespace gssgate::daemon {

// gss_canonicalize_name: the mechanism name, returned as a composite exported-name token.
absl::Status Service::CanonicalizeName(const Call& call, const v1::CanonicalizeNameRequest& request,
                                       v1::CanonicalizeNameReply* reply) {
  GSSGATE_ASSIGN_OR_RETURN(gss::Oid mech, oid_field(request.mech(), "mech"));
  if (mech.empty()) mech = gss::oids::krb5();
  gss::NameHandle name;
  gss::GssStatus status;
  GSSGATE_RETURN_IF_ERROR(import_wire_name(call, request.name(), "name", &name, &status));
  gss::NameHandle mn;
  if (status.ok()) status = gss::canonicalize_name(name, mech, &mn);
  to_proto(status, reply->mutable_status());
  if (status.ok()) name_to_proto(call, mn, reply->mutable_name());
  return absl::OkStatus();
}

}  // namespace gssgate::daemon
