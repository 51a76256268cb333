#include "daemon/handlers/common.h"
#include "daemon/handlers/cred_guard.h"
#include "lib/util/status_macros.h"

namespace gssgate::daemon {

// S4U2Self (gss_acquire_cred_impersonate_name): credentials for a user, obtained with one of the
// caller's initiator credentials, where its rule allows impersonating that user.
absl::Status Service::AcquireCredImpersonateName(
    const Call& call, const v1::AcquireCredImpersonateNameRequest& request,
    v1::AcquireCredImpersonateNameReply* reply) {
  GSSGATE_ASSIGN_OR_RETURN(gss::CredUsage usage, usage_from_proto(request.usage()));
  if (!request.has_name())
    return absl::InvalidArgumentError("name (whom to impersonate) is required");
  GSSGATE_ASSIGN_OR_RETURN(auto impersonator,
                           table().find(call.owner, request.impersonator(), HandleKind::kCred));
  gss::NameHandle name;
  gss::GssStatus status;
  GSSGATE_RETURN_IF_ERROR(import_wire_name(call, request.name(), "name", &name, &status));
  std::string principal;
  gss::NameHandle checked;
  if (status.ok()) {
    GSSGATE_RETURN_IF_ERROR(check_impersonation(call, name, &status, &principal, &checked));
  }
  if (!status.ok()) {
    to_proto(status, reply->mutable_status());
    return absl::OkStatus();
  }
  gss::AcquireCredRequest want;
  want.desired_name = &checked;  // the name that passed the check, not the caller's text
  want.usage = usage;
  want.lifetime = request.lifetime() == 0 ? GSS_C_INDEFINITE : request.lifetime();
  for (const std::string& der : request.mechs()) {
    GSSGATE_ASSIGN_OR_RETURN(gss::Oid mech, oid_field(der, "mechs"));
    GSSGATE_RETURN_IF_ERROR(require_mech(call, mech, "impersonate"));
    want.mechs.push_back(std::move(mech));
  }
  if (want.mechs.empty()) want.mechs = default_acquire_mechs(call.grant.rule());
  gss::AcquiredCred acquired;
  status = gss::acquire_cred_impersonate(impersonator->cred, want, &acquired);
  to_proto(status, reply->mutable_status());
  if (!status.ok()) {
    audit(call, "impersonate", absl::StrCat("name=", log_value(principal)),
          absl::StrCat("gss-error ", log_value(status.message())));
    return absl::OkStatus();
  }
  auto entry = std::make_shared<Entry>(call.owner, HandleKind::kCred);
  entry->cred = std::move(acquired.cred);
  GSSGATE_ASSIGN_OR_RETURN(std::string handle, table().insert(entry, call.grant.max_handles()));
  reply->set_creds(handle);
  for (const gss::Oid& mech : acquired.mechs) reply->add_mechs(mech.der());
  reply->set_lifetime(acquired.lifetime);
  audit(call, "impersonate",
        absl::StrCat("name=", log_value(principal), " usage=", gss::to_string(usage)), "ok");
  return absl::OkStatus();
}

}  // namespace gssgate::daemon
