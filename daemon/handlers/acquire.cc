#include "daemon/handlers/acquire.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "daemon/handlers/audit.h"
#include "daemon/handlers/convert.h"
#include "daemon/handlers/cred_guard.h"
#include "daemon/handlers/stores.h"
#include "daemon/log_format.h"
#include "daemon/policy.h"
#include "lib/gss/krb5.h"
#include "lib/util/status_macros.h"
#include "spdlog/spdlog.h"

namespace gssgate::daemon {

namespace {
// What MIT is given for one store element of a default credential, where that differs from the
// rule's value (a mirror), and the mirror's generation: CredCache serves a credential only while
// its stores still resolve to what it was made from.
void append_given(std::string* given, const std::string& element, const std::string& value,
                  const std::string& mit_gets, uint64_t generation) {
  absl::StrAppend(given, "|", element);
  if (mit_gets != value) absl::StrAppend(given, ">", mit_gets);
  if (generation != 0) absl::StrAppend(given, "@", generation);
}

// An empty in-memory keytab (MIT creates a MEMORY keytab empty when first resolved).
constexpr char kNoClientKeys[] = "MEMORY:gssgate-no-client-keys";

// The stores a rule grants for a usage; the cache key and acquire_granted both use it.
// `principal` ("name@REALM", or empty when none was named) picks the caller's in-daemon ccache: an
// explicitly named ccache holds one principal (MIT refuses another with "Principal in credential
// cache does not match desired name"), so a caller gets one MEMORY cache per principal it names.
absl::StatusOr<std::vector<std::pair<std::string, std::string>>> granted_stores(
    const Call& call, bool initiate, bool accept, const std::string& principal = std::string()) {
  const Rule& rule = call.grant.rule();
  std::vector<std::pair<std::string, std::string>> granted;
  auto grant = [&](Store store) -> absl::Status {
    const auto& value = call.grant.store(store);
    if (!value) return absl::OkStatus();
    if (!value->ok()) return value->status();
    granted.emplace_back(store_key(store), **value);
    return absl::OkStatus();
  };
  if (accept) GSSGATE_RETURN_IF_ERROR(grant(Store::kKeytab));
  if (initiate) {
    GSSGATE_RETURN_IF_ERROR(grant(Store::kClientKeytab));
    // Without a client_keytab element MIT gets initial tickets from the process's default client
    // keytab (KRB5_CLIENT_KTNAME, default_client_keytab_name: root's) for a principal the ccache
    // lacks: name an empty one instead.
    if (!rule.client_keytab) granted.emplace_back("client_keytab", kNoClientKeys);
    if (rule.ccache) {
      GSSGATE_RETURN_IF_ERROR(grant(Store::kCcache));
    } else {
      // Service tickets are cached per uid and rule inside the daemon; never the daemon's own
      // default ccache.
      granted.emplace_back("ccache", absl::StrCat("MEMORY:gssgate-", call.peer.uid, "-", rule.name,
                                                  principal.empty() ? "" : "-", principal));
    }
  }
  return granted;
}

// Whether `principal` has keys in the rule's client keytab.
bool client_keytab_holds(const Call& call, const std::string& principal, std::string* keytab) {
  const auto& path = call.grant.store(Store::kClientKeytab);
  if (!path || !path->ok()) return false;
  *keytab = **path;
  absl::StatusOr<std::vector<gss::KeytabEntry>> entries =
      rule_keytab_entries(call, Store::kClientKeytab);
  if (!entries.ok()) return false;
  for (const gss::KeytabEntry& e : *entries) {
    if (e.principal == principal) return true;
  }
  return false;
}
}  // namespace

absl::StatusOr<std::string> caller_ccache(const Call& call, const std::string& principal) {
  GSSGATE_ASSIGN_OR_RETURN(auto stores,
                           granted_stores(call, /*initiate=*/true, /*accept=*/false, principal));
  for (const auto& [key, value] : stores) {
    if (key == "ccache") return value;
  }
  return absl::InternalError("no ccache for the caller");  // granted_stores always names one
}

absl::Status check_impersonation(const Call& call, const gss::NameHandle& name,
                                 gss::GssStatus* status, std::string* principal,
                                 gss::NameHandle* checked) {
  // The right first: a rule without it never has the daemon canonicalize a name the caller chose.
  GSSGATE_RETURN_IF_ERROR(require(call, Right::kImpersonate, "impersonate", "impersonating users"));
  gss::NameHandle mn;
  *status = gss::canonicalize_name(name, gss::oids::krb5(), &mn);
  if (!status->ok()) return absl::OkStatus();
  *principal = display_of(mn);
  *checked = checked_name(std::move(mn), *principal);
  if (impersonation_allowed(call.grant.rule(), *principal)) return absl::OkStatus();
  return deny(
      call, "impersonate",
      absl::StrCat("policy rule \"", call.grant.rule_name(), "\" does not allow impersonating ",
                   *principal, " (not in impersonate_principals)"));
}

absl::Status default_creds(Service& service, const Call& call, gss::CredUsage usage,
                           gss::GssStatus* status, CredCache::Cred* out) {
  const bool initiate = usage == gss::CredUsage::kInitiate;
  GSSGATE_ASSIGN_OR_RETURN(auto stores, granted_stores(call, initiate, !initiate));
  // One cache slot per rule, usage and stores (StoreCred drops a ccache's slots by its value); the
  // slot serves its credential only while the stores still resolve to what MIT was given when it
  // was made (the acquisition below records that), so a credential made from an older copy of a
  // file (owner_stores.h), or from a copy where MIT now reads the file itself, is not reused.
  std::string key = absl::StrCat(call.grant.rule_name(), "|", gss::to_string(usage));
  std::string given;
  bool cacheable = true;
  for (const auto& [k, v] : stores) {
    absl::StrAppend(&key, "|", k, "=", v);
    uint64_t generation = 0;
    absl::StatusOr<std::string> mit_gets =
        rule_store_for_mit(call, k.c_str(), v, &generation, StoreUse::kSharedDefault);
    cacheable = cacheable && mit_gets.ok();
    if (mit_gets.ok()) append_given(&given, k, v, *mit_gets, generation);
  }
  if (CredCache::Cred cached = cacheable ? service.cred_cache().get(key, given) : nullptr) {
    *out = std::move(cached);
    *status = gss::GssStatus();
    spdlog::debug("default {} credentials of rule {} from the cache", gss::to_string(usage),
                  call.grant.rule_name());
    return absl::OkStatus();
  }
  CredRequest want;
  want.usage = usage;
  want.use = StoreUse::kSharedDefault;
  std::string made_from;
  want.given_stores = &made_from;
  // Every mechanism the rule allows, so a step of any of them finds its element.
  want.mechs = call.grant.rule().mechs;
  gss::AcquiredCred acquired;
  GSSGATE_RETURN_IF_ERROR(acquire_granted(call, want, status, &acquired));
  if (!status->ok()) return absl::OkStatus();
  auto cred = std::make_shared<const CachedCred>(std::move(acquired.cred));
  // Bounded so key rotation and ticket expiry are picked up; MIT renews initiator tickets from a
  // client keytab by itself while the credential lives.
  absl::Duration ttl = absl::Minutes(5);
  if (acquired.lifetime != GSS_C_INDEFINITE) {
    ttl = std::min(ttl, absl::Seconds(acquired.lifetime) / 2);
  }
  service.cred_cache().put(key, made_from, cred, ttl);
  *out = std::move(cred);
  return absl::OkStatus();
}

gss::NameHandle checked_name(gss::NameHandle mn, const std::string& principal) {
  // MIT's mechglue imports a name for SPNEGO (and other mechanisms) from the caller's original
  // text, so a hostbased or short name would be resolved once more after the check; a principal
  // with its realm is re-imported as exactly that principal instead. A referral-realm one
  // ("HTTP/host@") keeps the krb5 mechanism name.
  if (principal.empty() || principal.back() == '@') return mn;
  gss::NameHandle exact;
  if (!gss::import_name(principal, gss::oids::nt_krb5_principal_name(), &exact).ok()) return mn;
  return exact;
}

absl::Status check_acquire(const Call& call, const CredRequest& request, const char* op,
                           gss::GssStatus* status, gss::CredStore* stores,
                           gss::NameHandle* canonical) {
  const Rule& rule = call.grant.rule();
  const bool initiate = request.usage != gss::CredUsage::kAccept;
  const bool accept = request.usage != gss::CredUsage::kInitiate;
  if (request.usage == gss::CredUsage::kBoth && rule.allow_initiate != rule.allow_accept) {
    // "both" (python-gssapi's default usage) where the rule grants one side: what MIT in a
    // process holding only those stores says (a keytab and no ccache, or the reverse), no
    // credentials for the other side, rather than a policy refusal of the whole call.
    const char* granted = rule.allow_initiate ? "initiate" : "accept";
    const char* missing = rule.allow_initiate ? "accept" : "initiate";
    audit(call, op,
          absl::StrCat("reason=",
                       log_value(absl::StrCat("usage both; rule grants ", granted, " only"))),
          "denied");
    *status = gss::check("gss_acquire_cred", GSS_S_NO_CRED, 0);
    status->minor_text = {absl::StrCat(
        "policy rule \"", rule.name, "\" grants ", granted, " only, so there are no ", missing,
        " credentials for usage \"both\" (as MIT without a ",
        rule.allow_initiate ? "keytab" : "ccache", "); ask for usage \"", granted, "\"")};
    return absl::OkStatus();
  }
  if (initiate) {
    GSSGATE_RETURN_IF_ERROR(require(call, Right::kInitiate, op, "acquiring initiator credentials"));
  }
  if (accept) {
    GSSGATE_RETURN_IF_ERROR(require(call, Right::kAccept, op, "acquiring acceptor credentials"));
  }

  // The principal named, where the ccache choice or the rule's principal patterns need it.
  *status = gss::GssStatus();
  std::string principal;
  if (request.name != nullptr) {
    gss::NameHandle mn;
    *status = gss::canonicalize_name(*request.name, gss::oids::krb5(), &mn);
    if (!status->ok()) return absl::OkStatus();
    principal = display_of(mn);
    if (canonical != nullptr) *canonical = checked_name(std::move(mn), principal);
  }
  if (!principal.empty() && !rule.principals.empty() && !principal_allowed(rule, principal)) {
    return deny(
        call, op,
        absl::StrCat("policy rule \"", rule.name, "\" does not allow acting as ", principal));
  }

  // The stores come from the rule alone; a caller may only repeat what its rule names.
  GSSGATE_ASSIGN_OR_RETURN(auto granted, granted_stores(call, initiate, accept, principal));
  if (initiate && !rule.ccache && !principal.empty()) {
    // A per-principal MEMORY cache (granted_stores): see StoredCcaches (service.h).
    std::string ccache;
    for (const auto& [key, value] : granted) {
      if (key == "ccache") ccache = value;
    }
    const bool stored = call.stored_ccaches->contains(ccache);
    std::string keytab;
    if (!stored && !client_keytab_holds(call, principal, &keytab)) {
      *status = gss::check("gss_acquire_cred_from", GSS_S_NO_CRED, 0);
      status->minor_text = {absl::StrCat(
          "policy rule \"", rule.name, "\": ",
          keytab.empty() ? std::string("the rule names no client_keytab")
                         : absl::StrCat("client_keytab ", keytab),
          " holds no key for ", principal,
          ", and no credentials for it were stored (StoreCred); add its keys to the keytab, or "
          "name a principal it holds")};
      return absl::OkStatus();
    }
  }
  if (request.store != nullptr) {
    for (const auto& [key, value] : *request.store) {
      bool ok = false;
      for (const auto& [gkey, gvalue] : granted) ok = ok || (gkey == key && gvalue == value);
      if (!ok) {
        return deny(call, op,
                    absl::StrCat("store element ", key, "=", value,
                                 " is not granted by policy rule \"", rule.name, "\""));
      }
    }
  }
  // Files a caller could redirect reach MIT only as mirrors read with the caller's identity.
  for (auto& [key, value] : granted) {
    uint64_t generation = 0;
    absl::StatusOr<std::string> readable =
        rule_store_for_mit(call, key.c_str(), value, &generation, request.use);
    if (absl::IsPermissionDenied(readable.status())) {
      return deny(call, op, std::string(readable.status().message()));
    }
    if (!readable.ok()) {
      *status = gss::check("gss_acquire_cred_from", GSS_S_NO_CRED, 0);
      status->minor_text = {std::string(readable.status().message())};
      return absl::OkStatus();
    }
    if (request.given_stores != nullptr) {
      append_given(request.given_stores, key, value, *readable, generation);
    }
    value = *std::move(readable);
  }
  stores->elements = std::move(granted);
  return absl::OkStatus();
}

absl::Status acquire_granted(const Call& call, const CredRequest& request, gss::GssStatus* status,
                             gss::AcquiredCred* out) {
  const Rule& rule = call.grant.rule();
  const bool accept = request.usage != gss::CredUsage::kInitiate;
  gss::AcquireCredRequest acquire;
  for (const gss::Oid& mech : request.mechs) {
    GSSGATE_RETURN_IF_ERROR(require_mech(call, mech, "acquire"));
  }
  gss::NameHandle checked;
  GSSGATE_RETURN_IF_ERROR(
      check_acquire(call, request, "acquire", status, &acquire.store, &checked));
  if (!status->ok()) return absl::OkStatus();
  // The name that passed the check, not the caller's text (which MIT would resolve again).
  acquire.desired_name = request.name != nullptr ? &checked : nullptr;
  acquire.usage = request.usage;
  acquire.lifetime = request.lifetime;
  acquire.mechs = request.mechs.empty() ? default_acquire_mechs(rule) : request.mechs;
  *status = gss::acquire_cred(acquire, out);
  if (!status->ok() && accept) {
    if (std::string why = keytab_diagnosis(call); !why.empty()) status->minor_text.push_back(why);
  }
  if (!status->ok() && request.usage != gss::CredUsage::kAccept) {
    // With a client keytab MIT gets the TGT and stores it in the ccache right here.
    if (std::string why = ccache_diagnosis(call); !why.empty()) status->minor_text.push_back(why);
  }
  if (!status->ok()) return absl::OkStatus();
  GSSGATE_RETURN_IF_ERROR(check_acquired_principals(call, &out->cred, "acquire"));
  restrict_negotiation(rule, out->cred);
  return absl::OkStatus();
}

}  // namespace gssgate::daemon
