#include "daemon/handlers/cred_guard.h"

#include <algorithm>
#include <optional>

#include "absl/strings/str_cat.h"
#include "daemon/handlers/common.h"
#include "lib/gss/name.h"
#include "lib/util/status_macros.h"
#include "spdlog/spdlog.h"

namespace gssgate::daemon {

absl::Status require_mech(const Call& call, const gss::Oid& mech, const char* op) {
  if (mech_allowed(call.grant.rule(), mech)) return absl::OkStatus();
  return deny(call, op,
              absl::StrCat("policy rule \"", call.grant.rule_name(), "\" does not allow mechanism ",
                           mech_label(mech), "; it allows ", mech_list(call.grant.rule()),
                           " (an administrator can add it to the rule's mechs)"));
}

std::vector<gss::Oid> default_acquire_mechs(const Rule& rule) {
  std::vector<gss::Oid> mechs;
  for (const gss::Oid& mech : rule.mechs) {
    if (gss::is_default_mech(mech)) mechs.push_back(mech);
  }
  return mechs.empty() ? rule.mechs : mechs;
}

void restrict_negotiation(const Rule& rule, const gss::CredHandle& cred) {
  if (!mech_allowed(rule, gss::oids::spnego())) return;
  std::vector<gss::Oid> inner;
  for (const gss::Oid& mech : rule.mechs) {
    if (mech != gss::oids::spnego()) inner.push_back(mech);
  }
  gss::GssStatus status = gss::set_neg_mechs(cred, inner);
  // GSS_S_UNAVAILABLE: no element implements it, i.e. the credential has no SPNEGO element.
  if (!status.ok() && GSS_ROUTINE_ERROR(status.major) != GSS_S_UNAVAILABLE) {
    spdlog::warn("limiting SPNEGO to the mechanisms of rule {} failed: {}", rule.name,
                 status.message());
  }
}

gss::GssStatus require_cred_element(const gss::CredHandle& cred, const gss::Oid& mech,
                                    std::string* principal) {
  auto no_cred = [&](std::string why) {
    gss::GssStatus none = gss::check("gss_inquire_cred", GSS_S_NO_CRED, 0);
    none.minor_text = {std::move(why)};
    return none;
  };
  // GSS_C_NO_CREDENTIAL: MIT would inquire, and use, the process defaults.
  if (!cred) return no_cred("no credential to run the step with");
  // The element list of the union credential, which is what the mechglue looks the step's
  // mechanism up in (gss_inquire_cred_by_mech would say the same, but SPNEGO does not implement
  // it).
  gss::CredInfo info;
  gss::GssStatus status = gss::inquire_cred(cred, &info);
  if (!status.ok()) return status;
  if (std::find(info.mechs.begin(), info.mechs.end(), mech) == info.mechs.end()) {
    return no_cred(absl::StrCat(
        "the credential has no element for mechanism ", mech_label(mech),
        "; acquire credentials for it (mechs) or use the mechanism they were acquired for"));
  }
  gss::CredByMechInfo element;
  const gss::NameHandle& name =
      gss::inquire_cred_by_mech(cred, mech, &element).ok() ? element.name : info.name;
  *principal = name ? display_of(name) : std::string();
  return status;
}

namespace {
// require_cred_element, run once per credential and mechanism (cred_cache.h, CheckedElements).
gss::GssStatus require_checked_element(const gss::CredHandle& cred, const CheckedElements& checks,
                                       const gss::Oid& mech, std::string* principal) {
  if (std::optional<std::string> known = checks.checked_element(mech)) {
    *principal = *std::move(known);
    return gss::GssStatus();
  }
  gss::GssStatus status = require_cred_element(cred, mech, principal);
  if (status.ok()) checks.remember_element(mech, *principal);
  return status;
}
}  // namespace

absl::StatusOr<std::shared_ptr<const gss::CredHandle>> step_credential(
    Service& service, const Call& call, bool first, const std::shared_ptr<Entry>& cred_entry,
    gss::CredUsage usage, const gss::Oid* mech, Entry* context, gss::GssStatus* status,
    CredCache::Cred* default_cred) {
  if (!first) {
    // Set on the first step, before the context was inserted, and never changed.
    if (!context->step_cred) {
      return absl::FailedPreconditionError(
          "the context holds no credential to continue with (an imported context is complete); "
          "start a new context");
    }
    return context->step_cred;
  }
  std::shared_ptr<const gss::CredHandle> cred;
  if (cred_entry) cred = std::shared_ptr<const gss::CredHandle>(cred_entry, &cred_entry->cred);
  // Only for a token whose mechanism is known: MIT refuses any other before it looks at a
  // credential, and the default's acquisition must not put its own failure in that place.
  const bool follows_default = cred_entry && cred_entry->follows_default_acceptor &&
                               usage == gss::CredUsage::kAccept && mech != nullptr;
  if (follows_default) {
    // The handle's own elements say which mechanisms it accepts for (the daemon's check of any
    // handle: the default may hold elements for more of the rule's mechanisms).
    std::string principal;
    *status = require_checked_element(*cred, cred_entry->checked, *mech, &principal);
    if (!status->ok()) return cred;
  }
  const CheckedElements* checks = nullptr;
  if (cred_entry && !follows_default) {
    checks = &cred_entry->checked;
  } else {
    GSSGATE_RETURN_IF_ERROR(default_creds(service, call, usage, status, default_cred));
    if (!status->ok()) return cred;
    const CachedCred* cached = default_cred->get();
    cred = std::shared_ptr<const gss::CredHandle>(*default_cred, &cached->handle());
    checks = cached;
  }
  if (mech != nullptr) {
    *status = require_checked_element(*cred, *checks, *mech, &context->principal);
  }
  context->step_cred = cred;
  return cred;
}

absl::Status check_acquired_principals(const Call& call, gss::CredHandle* cred, const char* op,
                                       const gss::Oid* only) {
  const Rule& rule = call.grant.rule();
  if (rule.principals.empty()) return absl::OkStatus();
  gss::CredInfo info;
  std::vector<std::string> principals;
  bool nameless_acceptor = false;
  gss::GssStatus status = gss::inquire_cred(*cred, &info);
  if (status.ok() && only == nullptr && info.name) principals.push_back(display_of(info.name));
  for (const gss::Oid& mech : status.ok() ? info.mechs : std::vector<gss::Oid>()) {
    if (only != nullptr && mech != *only) continue;
    gss::CredByMechInfo element;
    // SPNEGO does not implement it: its inner credential is covered by gss_inquire_cred's name.
    if (!gss::inquire_cred_by_mech(*cred, mech, &element).ok()) continue;
    if (element.name) {
      principals.push_back(display_of(element.name));
    } else if (element.usage != gss::CredUsage::kInitiate) {
      nameless_acceptor = true;
    }
  }
  if (nameless_acceptor || (status.ok() && !info.name && info.usage == gss::CredUsage::kAccept)) {
    // An acceptor credential without a name accepts for every key of the rule's keytab.
    absl::StatusOr<std::vector<gss::KeytabEntry>> entries =
        rule_keytab_entries(call, Store::kKeytab);
    if (entries.ok()) {
      for (const gss::KeytabEntry& e : *entries) principals.push_back(e.principal);
    }
  }
  if (principals.empty()) {
    // Nothing to hold to the patterns is no licence: a credential the daemon cannot name is
    // refused.
    cred->reset();
    return deny(call, op,
                absl::StrCat("the credential acquired under policy rule \"", rule.name,
                             "\" names no principal to check against its principals"));
  }
  for (const std::string& p : principals) {
    if (!principal_allowed(rule, p)) {
      cred->reset();
      return deny(call, op,
                  absl::StrCat("the stores of policy rule \"", rule.name, "\" hold ", p,
                               ", which the rule's principals do not allow; name a principal"));
    }
  }
  return absl::OkStatus();
}

}  // namespace gssgate::daemon
