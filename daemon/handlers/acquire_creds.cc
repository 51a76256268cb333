#include "daemon/handlers/common.h"
#include "lib/util/status_macros.h"

namespace gssgate::daemon {

namespace {
// Whether the caller's rule names a keytab file that only root can change: then a nameless
// acceptor handle holds the same keys as the rule's default acceptor, which reads the file from a
// copy (Entry::follows_default_acceptor). A keytab its callers could redirect is read as its
// owner at every call instead (owner_stores.h), so such handles keep the copy they were made
// from, as before.
bool keytab_only_root_can_change(const Call& call) {
  const auto& keytab = call.grant.store(Store::kKeytab);
  if (!keytab || !keytab->ok()) return false;
  const std::string path = store_file(**keytab);
  return !path.empty() && !redirectable(path);
}
}  // namespace

// gss_acquire_cred_from with the stores the caller's rule grants; the handle stays here.
absl::Status Service::AcquireCreds(const Call& call, const v1::AcquireCredsRequest& request,
                                   v1::AcquireCredsReply* reply) {
  GSSGATE_ASSIGN_OR_RETURN(gss::CredUsage usage, usage_from_proto(request.usage()));
  CredRequest want;
  want.usage = usage;
  want.lifetime = request.lifetime() == 0 ? GSS_C_INDEFINITE : request.lifetime();
  want.store = &request.store();
  for (const std::string& der : request.mechs()) {
    GSSGATE_ASSIGN_OR_RETURN(gss::Oid mech, oid_field(der, "mechs"));
    want.mechs.push_back(std::move(mech));
  }
  gss::NameHandle name;
  gss::GssStatus status;
  if (request.has_name()) {
    GSSGATE_RETURN_IF_ERROR(import_wire_name(call, request.name(), "name", &name, &status));
    want.name = &name;
  }
  gss::AcquiredCred acquired;
  if (status.ok()) GSSGATE_RETURN_IF_ERROR(acquire_granted(call, want, &status, &acquired));
  to_proto(status, reply->mutable_status());
  std::string who = request.has_name() ? loggable_name(name, request.name()) : "(default)";
  if (!status.ok()) {
    audit(call, "acquire", absl::StrCat("name=", log_value(who), " usage=", gss::to_string(usage)),
          absl::StrCat("gss-error ", log_value(status.message())));
    return absl::OkStatus();
  }
  auto entry = std::make_shared<Entry>(call.owner, HandleKind::kCred);
  {
    absl::MutexLock lock(&entry->mu);
    entry->cred = std::move(acquired.cred);
  }
  entry->follows_default_acceptor =
      usage == gss::CredUsage::kAccept && !request.has_name() && keytab_only_root_can_change(call);
  GSSGATE_ASSIGN_OR_RETURN(std::string handle, table().insert(entry, call.grant.max_handles()));
  reply->set_creds(handle);
  for (const gss::Oid& mech : acquired.mechs) reply->add_mechs(mech.der());
  reply->set_lifetime(acquired.lifetime);
  audit(call, "acquire",
        absl::StrCat("name=", log_value(who), " usage=", gss::to_string(usage),
                     " lifetime=", acquired.lifetime),
        "ok");
  return absl::OkStatus();
}

}  // namespace gssgate::daemon
