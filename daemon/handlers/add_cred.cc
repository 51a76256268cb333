#include "daemon/handlers/common.h"
#include "daemon/handlers/cred_guard.h"
#include "lib/util/status_macros.h"

namespace gssgate::daemon {

// gss_add_cred_from / gss_add_cred_impersonate_name: new credentials made of the caller's `creds`
// (or none) plus one element, under the checks of AcquireCreds or AcquireCredImpersonateName.
absl::Status Service::AddCred(const Call& call, const v1::AddCredRequest& request,
                              v1::AddCredReply* reply) {
  GSSGATE_ASSIGN_OR_RETURN(gss::CredUsage usage, usage_from_proto(request.usage()));
  GSSGATE_ASSIGN_OR_RETURN(gss::Oid mech, oid_field(request.mech(), "mech"));
  if (mech.empty()) mech = gss::oids::krb5();
  GSSGATE_RETURN_IF_ERROR(require_mech(call, mech, "add_cred"));
  if (!request.has_name()) return absl::InvalidArgumentError("name is required");
  const bool impersonating = !request.impersonator().empty();
  if (impersonating && !request.store().empty()) {
    return absl::InvalidArgumentError("store and impersonator cannot be used together");
  }
  std::shared_ptr<Entry> base;
  if (!request.creds().empty()) {
    GSSGATE_ASSIGN_OR_RETURN(base, table().find(call.owner, request.creds(), HandleKind::kCred));
  }
  std::shared_ptr<Entry> impersonator;
  if (impersonating) {
    GSSGATE_ASSIGN_OR_RETURN(impersonator,
                             table().find(call.owner, request.impersonator(), HandleKind::kCred));
  }
  gss::NameHandle name;
  gss::GssStatus status;
  GSSGATE_RETURN_IF_ERROR(import_wire_name(call, request.name(), "name", &name, &status));

  gss::AddCredRequest add;
  add.desired_name = &name;
  add.mech = mech;
  add.usage = usage;
  add.init_lifetime = request.init_lifetime() == 0 ? GSS_C_INDEFINITE : request.init_lifetime();
  add.accept_lifetime =
      request.accept_lifetime() == 0 ? GSS_C_INDEFINITE : request.accept_lifetime();
  std::string who = loggable_name(name, request.name());
  gss::NameHandle checked;
  if (status.ok() && impersonating) {
    GSSGATE_RETURN_IF_ERROR(check_impersonation(call, name, &status, &who, &checked));
    add.desired_name = &checked;  // the name that passed the check (checked_name)
  } else if (status.ok()) {
    CredRequest want;
    want.name = &name;
    want.usage = usage;
    want.store = &request.store();
    GSSGATE_RETURN_IF_ERROR(check_acquire(call, want, "add_cred", &status, &add.store, &checked));
    add.desired_name = &checked;  // the name that passed the check (checked_name)
  }
  gss::AddedCred added;
  if (status.ok()) {
    const gss::CredHandle* base_cred = base ? &base->cred : nullptr;
    status = impersonating ? gss::add_cred_impersonate(base_cred, impersonator->cred, add, &added)
                           : gss::add_cred(base_cred, add, &added);
  }
  if (status.ok() && !impersonating) {
    GSSGATE_RETURN_IF_ERROR(check_acquired_principals(call, &added.cred, "add_cred", &mech));
    restrict_negotiation(call.grant.rule(), added.cred);
  }
  to_proto(status, reply->mutable_status());
  const std::string details =
      absl::StrCat("name=", log_value(who), " usage=", gss::to_string(usage),
                   impersonating ? " impersonate=yes" : "", base ? " base=yes" : "");
  if (!status.ok()) {
    audit(call, "add_cred", details, absl::StrCat("gss-error ", log_value(status.message())));
    return absl::OkStatus();
  }
  auto entry = std::make_shared<Entry>(call.owner, HandleKind::kCred);
  entry->cred = std::move(added.cred);
  GSSGATE_ASSIGN_OR_RETURN(std::string handle, table().insert(entry, call.grant.max_handles()));
  reply->set_creds(handle);
  for (const gss::Oid& m : added.mechs) reply->add_mechs(m.der());
  reply->set_init_lifetime(added.init_lifetime);
  reply->set_accept_lifetime(added.accept_lifetime);
  audit(call, "add_cred", details, "ok");
  return absl::OkStatus();
}

}  // namespace gssgate::daemon
