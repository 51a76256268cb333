#pragma once

// The checks that keep MIT from acting with the daemon's own identity (issue #14, item 1).
//
// MIT's mechglue hands a mechanism GSS_C_NO_CREDENTIAL whenever the credential passed to
// gss_init_sec_context has no element for the requested mechanism, and so does SPNEGO for its
// inner mechanism when it got no SPNEGO element, or no credential on a later step; krb5 then loads
// the process defaults: root's ccache (KCM, KEYRING:persistent:0, /tmp/krb5cc_0), the default
// client keytab or /etc/krb5.keytab. So every step here runs with a credential the daemon acquired
// from the caller's rule (or the caller's own handle), checked to hold an element for the step's
// mechanism, and held on the context entry from its first step to its last; mechanisms are limited
// to the rule's `mechs`; and what an acquisition produced is inquired and held to the rule's
// `principals`.

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "daemon/service.h"
#include "lib/gss/cred.h"
#include "lib/gss/oid.h"
#include "lib/gss/status.h"

namespace gssgate::daemon {

// PERMISSION_DENIED (and an audit line as `op`) unless the caller's rule allows `mech`; the text
// names the mechanism, the rule and the mechanisms it allows.
absl::Status require_mech(const Call& call, const gss::Oid& mech, const char* op);

// What AcquireCreds acquires when a caller names no mechanism (as python-gssapi over MIT would):
// the rule's mechanisms that MIT would take by default (krb5 and SPNEGO, not the deprecated krb5
// OIDs or IAKERB), or all of the rule's when it allows none of those. Never MIT's own default set,
// which the rule may not allow. (The default credentials of InitSecContext and AcceptSecContext
// hold every mechanism of the rule.)
std::vector<gss::Oid> default_acquire_mechs(const Rule& rule);

// Limits what SPNEGO may negotiate with `cred` to the rule's other mechanisms (gss_set_neg_mechs).
// Nothing to do for a credential without a SPNEGO element.
void restrict_negotiation(const Rule& rule, const gss::CredHandle& cred);

// Checks that `cred` has an element for `mech`, the mechanism a step will run: GSS_S_NO_CRED with a
// text naming the mechanism when it has none (the step must then not run). On success
// *principal is the element's principal ("name@REALM"; "" for an acceptor element that accepts
// for any key of its keytab).
gss::GssStatus require_cred_element(const gss::CredHandle& cred, const gss::Oid& mech,
                                    std::string* principal);

// The credential every step of a context runs with. On the first step (`first`): the caller's
// handle `cred_entry` (kept alive by the result) or, when null, the rule's default for `usage`
// (also in *default_cred, so a failure can drop it from the cache), checked to hold an element
// for `mech` when the mechanism is known (non-null), and stored on `context` with the principal
// it acts as. An accept step with a handle that follows its rule's default acceptor
// (Entry::follows_default_acceptor), for a token of a known mechanism, checks the handle for
// `mech`, then runs with the default. On a later step: the credential `context` holds;
// FAILED_PRECONDITION when it holds none (an imported context, which is complete). GSSAPI failures
// come back in *status, with the credential still returned when there is one.
absl::StatusOr<std::shared_ptr<const gss::CredHandle>> step_credential(
    Service& service, const Call& call, bool first, const std::shared_ptr<Entry>& cred_entry,
    gss::CredUsage usage, const gss::Oid* mech, Entry* context, gss::GssStatus* status,
    CredCache::Cred* default_cred);

// After an acquisition: every element of `cred` (only the one for `mech`, when given) acts as a
// principal the rule's `principals` allow (for a nameless acceptor element, every principal of
// the rule's keytab). A credential that does not is released here and the call denied
// (PERMISSION_DENIED, audit line as `op`).
absl::Status check_acquired_principals(const Call& call, gss::CredHandle* cred, const char* op,
                                       const gss::Oid* mech = nullptr);

}  // namespace gssgate::daemon
