#include <gssapi/gssapi_krb5.h>

#include "daemon/handlers/common.h"
#include "lib/util/status_macros.h"

namespace gssgate::daemon {

// gss_inquire_cred_by_oid on one of the caller's credentials, for the one OID MIT's krb5 answers
// about a credential: GSS_KRB5_GET_CRED_IMPERSONATOR, the principal of the service that obtained
// it by S4U2Proxy (what a delegated credential of a constrained-delegation accept carries). A
// name, no key. Other OIDs are not answered: none is known to MIT's krb5, and a mechanism added
// later could answer one with secrets.
absl::Status Service::InquireCredByOid(const Call& call, const v1::InquireCredByOidRequest& request,
                                       v1::InquireCredByOidReply* reply) {
  GSSGATE_ASSIGN_OR_RETURN(gss::Oid oid, required_oid_field(request.oid(), "oid"));
  // The handle first: one that is not the caller's is NOT_FOUND whatever the OID.
  GSSGATE_ASSIGN_OR_RETURN(auto entry,
                           table().find(call.owner, request.creds(), HandleKind::kCred));
  static const gss::Oid* const kImpersonator =
      new gss::Oid(gss::Oid::from_gss(GSS_KRB5_GET_CRED_IMPERSONATOR));
  if (oid != *kImpersonator) {
    to_proto(refusal("gss_inquire_cred_by_oid", GSS_S_UNAVAILABLE,
                     absl::StrCat("gssgated answers gss_inquire_cred_by_oid only for a "
                                  "credential's impersonator (GSS_KRB5_GET_CRED_IMPERSONATOR, ",
                                  kImpersonator->dotted(), "); not for ", oid.dotted())),
             reply->mutable_status());
    return absl::OkStatus();
  }
  std::vector<std::string> values;
  const gss::GssStatus status = gss::inquire_cred_by_oid(entry->cred, oid, &values);
  to_proto(status, reply->mutable_status());
  for (std::string& v : values) reply->add_values(std::move(v));
  return absl::OkStatus();
}

}  // namespace gssgate::daemon
