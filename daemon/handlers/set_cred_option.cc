#include <gssapi/gssapi_krb5.h>

#include "absl/strings/str_join.h"
#include "daemon/handlers/common.h"
#include "lib/util/status_macros.h"

namespace gssgate::daemon {

namespace {
// MIT's GSS_KRB5_SET_ALLOWABLE_ENCTYPES_OID (gssapiP_krb5.h, not public): 1.2.840.113554.1.2.2.5.4,
// the krb5 mechanism's OID followed by 5 and 4.
const gss::Oid& allowable_enctypes_option() {
  static const gss::Oid* const oid =
      new gss::Oid(*gss::Oid::from_dotted("1.2.840.113554.1.2.2.5.4"));
  return *oid;
}
// More than any krb5 library knows (MIT 1.20 has fewer than 20).
constexpr int kMaxEnctypes = 64;
}  // namespace

// gss_set_cred_option on one of the caller's credentials, for the options that only narrow what
// it does: the enctypes its contexts may use, and no channel-binding-insensitive flags in the
// initiator's checksum. The others MIT's krb5 knows carry pointers into the calling process (a
// ccache to copy the tickets into, a replay cache, a ccache and keytab to import), which neither
// reach gssgated nor should: copying the tickets out is StoreCred's, under store_creds.
absl::Status Service::SetCredOption(const Call& call, const v1::SetCredOptionRequest& request,
                                    v1::SetCredOptionReply* reply) {
  if (request.oid().empty()) return absl::InvalidArgumentError("oid is required");
  GSSGATE_ASSIGN_OR_RETURN(gss::Oid oid, oid_field(request.oid(), "oid"));
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
    gss::GssStatus refused = gss::check("gss_set_cred_option", GSS_S_UNAVAILABLE, 0);
    refused.minor_text = {absl::StrCat(
        "gssgated sets only the credential options that narrow what a credential does: the "
        "allowable enctypes (",
        allowable_enctypes_option().dotted(), ") and GSS_KRB5_CRED_NO_CI_FLAGS_X (",
        kNoCiFlags->dotted(), "); not ", oid.dotted(),
        " (options that carry a ccache, replay cache or keytab of the program cannot reach "
        "gssgated's credentials; gss_store_cred copies tickets out where policy allows it)")};
    to_proto(refused, reply->mutable_status());
    return absl::OkStatus();
  }
  if (!enctypes && request.enctypes_size() != 0) {
    return absl::InvalidArgumentError("enctypes is for the allowable-enctypes option only");
  }
  const std::vector<int32_t> list(request.enctypes().begin(), request.enctypes().end());
  const gss::GssStatus status = enctypes ? gss::set_allowable_enctypes(entry->cred, list)
                                         : gss::set_cred_flag_option(entry->cred, oid);
  to_proto(status, reply->mutable_status());
  if (status.ok()) {
    // A nameless acceptor handle accepts with its rule's shared default acceptor credential
    // (Entry::follows_default_acceptor), which must not take one caller's options: from now on
    // it accepts with its own credential, which has them.
    entry->follows_default_acceptor = false;
  }
  std::string details = absl::StrCat("oid=", oid.dotted());
  if (enctypes) absl::StrAppend(&details, " enctypes=", absl::StrJoin(list, ","));
  audit(call, "set_cred_option", details,
        status.ok() ? "ok" : absl::StrCat("gss-error ", log_value(status.message())));
  return absl::OkStatus();
}

}  // namespace gssgate::daemon
