#pragma once

// The policy-checked credential acquisition every credential-using RPC goes through: the stores
// a rule grants, the checks of a request against it, S4U2Self's, and the caller's default
// credentials.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "daemon/cred_cache.h"
#include "daemon/owner_stores.h"
#include "daemon/service.h"
#include "lib/gss/cred.h"
#include "lib/gss/name.h"

namespace gssgate::daemon {

// What a caller asks for when acquiring credentials.
struct CredRequest {
  const gss::NameHandle* name = nullptr;  // null: the store's default principal
  gss::CredUsage usage = gss::CredUsage::kBoth;
  OM_uint32 lifetime = GSS_C_INDEFINITE;
  std::vector<gss::Oid> mechs;
  // Store elements the caller named; each must equal what its rule grants.
  const google::protobuf::Map<std::string, std::string>* store = nullptr;
  // kSharedDefault only for default_creds, which looks its stores up again on every call.
  StoreUse use = StoreUse::kCaller;
  // When set, receives what MIT is given for each store, as default_creds keys its cache.
  std::string* given_stores = nullptr;
};

// The policy checks of an acquisition, before any store is touched: the usage, the named store
// elements and the principal against the caller's rule. On success *stores holds what to acquire
// from. Refusals are PERMISSION_DENIED (returned, audit-logged as `op`); a GSSAPI failure while
// reading the name comes back in *status (with OK returned).
// *canonical (when not null) receives the name to acquire with: the one whose principal passed
// the check (see checked_name), never the caller's text.
absl::Status check_acquire(const Call& call, const CredRequest& request, const char* op,
                           gss::GssStatus* status, gss::CredStore* stores,
                           gss::NameHandle* canonical);

// The name to acquire as, for the krb5 mechanism name `mn` whose display form `principal` passed
// the policy check: `principal` imported as a Kerberos principal name (so no mechanism resolves
// the caller's original text again), or `mn` itself for a referral-realm principal.
gss::NameHandle checked_name(gss::NameHandle mn, const std::string& principal);

// S4U2Self policy: PERMISSION_DENIED (and an audit line) unless the caller's rule allows
// impersonating `name`; *principal is the name as "name@REALM" and *checked the name to acquire
// with (checked_name: the principal that passed, not the caller's text). GSSAPI failures in
// *status.
absl::Status check_impersonation(const Call& call, const gss::NameHandle& name,
                                 gss::GssStatus* status, std::string* principal,
                                 gss::NameHandle* checked);

// Acquires credentials from the stores the caller's rule grants, after check_acquire. Policy
// refusals are PERMISSION_DENIED (returned, and audit-logged); GSSAPI failures come back in
// *status.
absl::Status acquire_granted(const Call& call, const CredRequest& request, gss::GssStatus* status,
                             gss::AcquiredCred* out);

// The caller's default initiator or acceptor credentials (`usage` is kInitiate or kAccept): from
// the rule's stores via acquire_granted, shared through the service's CredCache. Never
// GSS_C_NO_CREDENTIAL, which would be the daemon's own default ccache or keytab.
absl::Status default_creds(Service& service, const Call& call, gss::CredUsage usage,
                           gss::GssStatus* status, CredCache::Cred* out);

// The caller's ccache for `principal` ("name@REALM"): the rule's `ccache` (expanded), else the
// caller's private MEMORY cache for that principal in the daemon.
absl::StatusOr<std::string> caller_ccache(const Call& call, const std::string& principal);

}  // namespace gssgate::daemon
