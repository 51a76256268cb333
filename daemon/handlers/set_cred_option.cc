#include <gssapi/gssapi_krb5.h>

#include <algorithm>

#include "absl/strings/str_join.h"
#include "daemon/handlers/common.h"
#include "lib/gss/krb5.h"
#include "lib/util/status_macros.h"

namespace gssgate::daemon {

namespace {
// MIT's GSS_KRB5_SET_ALLOWABLE_ENCTYPES_OID (gssapiP_krb5.h, not public): 1.2.840.113554.1.2.2.5.4.
// The interposer has the same bytes (client/interposer/creds.c, allowable_enctypes_oid).
const gss::Oid& allowable_enctypes_option() {
  static const gss::Oid* const oid =
      new gss::Oid(*gss::Oid::from_dotted("1.2.840.113554.1.2.2.5.4"));
  return *oid;
}
// More than any krb5 library knows (MIT 1.20 has fewer than 20). The interposer refuses more
// before it sends them (client/interposer/creds.c, MAX_ENCTYPES).
constexpr int kMaxEnctypes = 64;

// The first of `enctypes` that krb5.conf's permitted_enctypes leaves out, or 0. MIT takes a
// credential's list in place of krb5.conf's default_tgs_enctypes, dropping only invalid and
// weak ones; gssgated keeps it within what the administrator permits, so the option narrows.
absl::StatusOr<int32_t> first_not_permitted(const std::vector<int32_t>& enctypes) {
  GSSGATE_ASSIGN_OR_RETURN(gss::Krb5Context ctx, gss::Krb5Context::create());
  GSSGATE_ASSIGN_OR_RETURN(std::vector<int32_t> permitted, gss::permitted_enctypes(ctx));
  for (int32_t e : enctypes) {
    if (std::find(permitted.begin(), permitted.end(), e) == permitted.end()) return e;
  }
  return 0;
}
}  // namespace

// gss_set_cred_option on one of the caller's credentials, for the options that only narrow what
// it does: the enctypes its contexts may use (within krb5.conf's permitted_enctypes), and no
// channel-binding-insensitive flags in the initiator's checksum. The others MIT's krb5 knows carry
// pointers into the calling process (a ccache to copy the tickets into, a replay cache, a ccache
// and keytab to import), which neither reach gssgated nor should: copying the tickets out is
// StoreCred's, under store_creds.
absl::Status Service::SetCredOption(const Call& call, const v1::SetCredOptionRequest& request,
                                    v1::SetCredOptionReply* reply) {
  GSSGATE_ASSIGN_OR_RETURN(gss::Oid oid, required_oid_field(request.oid(), "oid"));
  if (request.enctypes_size() > kMaxEnctypes) {
    return absl::InvalidArgumentError(
        absl::StrCat("enctypes: ", request.enctypes_size(), " given, at most ", kMaxEnctypes));
  }
  // The handle first: one that is not the caller's is NOT_FOUND whatever the option.
  GSSGATE_ASSIGN_OR_RETURN(auto entry,
                           table().find(call.owner, request.creds(), HandleKind::kCred));
  static const gss::Oid* const kNoCiFlags =
      new gss::Oid(gss::Oid::from_gss(GSS_KRB5_CRED_NO_CI_FLAGS_X));
  const bool enctypes = oid == allowable_enctypes_option();
  if (!enctypes && oid != *kNoCiFlags) {
    to_proto(refusal("gss_set_cred_option", GSS_S_UNAVAILABLE,
                     absl::StrCat("gssgated sets only the credential options that narrow what a "
                                  "credential does: the allowable enctypes (",
                                  allowable_enctypes_option().dotted(),
                                  ") and GSS_KRB5_CRED_NO_CI_FLAGS_X (", kNoCiFlags->dotted(),
                                  "); not ", oid.dotted(),
                                  " (options that carry a ccache, replay cache or keytab of the "
                                  "program cannot reach gssgated's credentials; gss_store_cred "
                                  "copies tickets out where policy allows it)")),
             reply->mutable_status());
    return absl::OkStatus();
  }
  if (!enctypes && (request.enctypes_size() != 0 || request.reset())) {
    return absl::InvalidArgumentError("enctypes and reset are for the allowable-enctypes option");
  }
  if (request.reset() && request.enctypes_size() != 0) {
    return absl::InvalidArgumentError("reset takes no enctypes");
  }
  const std::vector<int32_t> list(request.enctypes().begin(), request.enctypes().end());
  for (int32_t e : list) {
    // MIT stops reading its list at a 0, so what it took would not be what was asked.
    if (e <= 0) return absl::InvalidArgumentError(absl::StrCat("enctypes: ", e, " is no enctype"));
  }
  std::string details = absl::StrCat("oid=", oid.dotted());
  if (enctypes) {
    absl::StrAppend(&details, request.reset()
                                  ? " enctypes=reset"
                                  : absl::StrCat(" enctypes=", absl::StrJoin(list, ",")));
  }
  gss::GssStatus status;
  if (enctypes && !request.reset()) {
    GSSGATE_ASSIGN_OR_RETURN(int32_t outside, first_not_permitted(list));
    if (outside != 0) {
      status = refusal("gss_krb5_set_allowable_enctypes", GSS_S_FAILURE,
                       absl::StrCat("enctype ", outside,
                                    " is not among krb5.conf's permitted_enctypes: a credential's "
                                    "enctypes are narrowed within them, never widened"));
    }
  }
  if (status.ok()) {
    status = !enctypes         ? gss::set_cred_flag_option(entry->cred, oid)
             : request.reset() ? gss::set_allowable_enctypes(entry->cred, nullptr)
                               : gss::set_allowable_enctypes(entry->cred, &list);
  }
  to_proto(status, reply->mutable_status());
  if (status.ok() && enctypes) {
    // A nameless acceptor handle accepts with its rule's shared default acceptor credential
    // (Entry::follows_default_acceptor), which must not take one caller's enctypes: from now on
    // it accepts with its own credential, which has them. (The other option concerns initiators
    // only.)
    entry->follows_default_acceptor = false;
  }
  audit(call, "set_cred_option", details,
        status.ok() ? "ok" : absl::StrCat("gss-error ", log_value(status.message())));
  return absl::OkStatus();
}

}  // namespace gssgate::daemon
