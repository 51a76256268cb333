#include <fstream>
#include <iterator>

#include "daemon/handlers/common.h"
#include "daemon/owner_stores.h"
#include "lib/gss/krb5.h"
#include "lib/util/status_macros.h"

namespace gssgate::daemon {

// gss_store_cred_into the caller's own ccache (the rule's `ccache`, else its private MEMORY cache
// in the daemon), where rule and policy allow it. Never the daemon's default ccache.
absl::Status Service::StoreCred(const Call& call, const v1::StoreCredRequest& request,
                                v1::StoreCredReply* reply) {
  const Rule& rule = call.grant.rule();
  GSSGATE_RETURN_IF_ERROR(require(call, Right::kStoreCreds, "store_cred", "storing credentials"));

  // A ccache holds initiator credentials: only a rule that grants initiate has one.
  GSSGATE_RETURN_IF_ERROR(
      require(call, Right::kInitiate, "store_cred", "storing credentials into a ccache"));
  GSSGATE_ASSIGN_OR_RETURN(gss::CredUsage usage, usage_from_proto(request.usage()));
  GSSGATE_ASSIGN_OR_RETURN(gss::Oid mech, oid_field(request.mech(), "mech"));
  GSSGATE_ASSIGN_OR_RETURN(auto entry,
                           table().find(call.owner, request.creds(), HandleKind::kCred));
  gss::CredInfo info;
  gss::GssStatus status = gss::inquire_cred(entry->cred, &info);
  if (!status.ok()) {
    to_proto(status, reply->mutable_status());
    return absl::OkStatus();
  }
  GSSGATE_ASSIGN_OR_RETURN(std::string ccache,
                           caller_ccache(call, info.name ? display_of(info.name) : std::string()));
  for (const auto& [key, value] : request.store()) {
    if (key != "ccache" || value != ccache) {
      return deny(call, "store_cred",
                  absl::StrCat("store element ", key, "=", value,
                               " is not granted by policy rule \"", rule.name,
                               "\" (credentials can be stored only into ", ccache, ")"));
    }
  }
  // Recorded before the store, so an acquisition racing it finds the name; the record needs real
  // credentials to be made, so the set stays bounded (StoredCcaches, service.h).
  stored_ccaches_.note(ccache);
  const std::string details = absl::StrCat("usage=", gss::to_string(usage),
                                           " overwrite=", request.overwrite() ? "yes" : "no");
  // A ccache its callers could redirect is never written by MIT (owner_stores.h): MIT writes a
  // fresh file of its own, holding what the caller's file held, and gssgated then puts that in
  // place of the caller's file with the caller's identity.
  const std::string file = store_file(ccache);
  const bool as_owner = !file.empty() && redirectable(file);
  GSSGATE_ASSIGN_OR_RETURN(gss::Krb5Context krb5, gss::Krb5Context::create());
  std::string target = ccache;
  if (as_owner) {
    GSSGATE_ASSIGN_OR_RETURN(target, gss::new_file_ccache(krb5));
  }
  struct RemoveTemp {
    const gss::Krb5Context& krb5;
    const std::string& name;
    bool active;
    ~RemoveTemp() {
      if (active) gss::destroy_ccache(krb5, name).IgnoreError();
    }
  } remove_temp{krb5, target, as_owner};
  const StoreOwner owner = store_owner(call);
  const std::string what = absl::StrCat("policy rule \"", rule.name, "\": ccache ", ccache);
  // The same verdict as an acquisition's: a DIR: collection its callers could redirect is
  // refused, and the current contents of an owner's ccache come through its mirror (read as the
  // owner, bounded, never locked by MIT).
  absl::StatusOr<std::string> current = rule_store_for_mit(call, "ccache", ccache, nullptr);
  if (absl::IsPermissionDenied(current.status()) ||
      absl::IsFailedPrecondition(current.status())) {
    return deny(call, "store_cred", std::string(current.status().message()));
  }
  if (as_owner && current.ok()) {
    // An empty or unreadable ccache is replaced, as MIT replaces a ccache it cannot parse.
    gss::mirror_ccache(krb5, *current, target).IgnoreError();
  }
  gss::StoredCred stored;
  status =
      gss::store_cred_into(entry->cred, usage, mech, request.overwrite(), request.default_cred(),
                           gss::CredStore().add("ccache", target), &stored);
  if (status.ok() && as_owner) {
    std::string bytes;
    {
      std::ifstream in(store_file(target), std::ios::binary);
      bytes.assign(std::istreambuf_iterator<char>(in), {});
      if (!in.good() && !in.eof()) return absl::InternalError(what + ": cannot read the new ccache");
    }
    absl::Status written = replace_as_owner(file, bytes, owner, what);
    if (absl::IsPermissionDenied(written)) {
      return deny(call, "store_cred", std::string(written.message()));
    }
    GSSGATE_RETURN_IF_ERROR(written);
  }
  to_proto(status, reply->mutable_status());
  if (!status.ok()) {
    audit(call, "store_cred", details, absl::StrCat("gss-error ", log_value(status.message())));
    return absl::OkStatus();
  }
  // Default initiator credentials cached from this ccache may now be stale.
  cred_cache().erase_containing(absl::StrCat("ccache=", ccache));
  for (const gss::Oid& m : stored.mechs) reply->add_mechs(m.der());
  reply->set_usage(usage_to_proto(stored.usage));
  audit(call, "store_cred", details, "ok");
  return absl::OkStatus();
}

}  // namespace gssgate::daemon
