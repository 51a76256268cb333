#include <algorithm>
#include <string_view>

#include "absl/strings/match.h"
#include "daemon/handlers/common.h"
#include "lib/util/status_macros.h"

namespace gssgate::daemon {

namespace {
// MIT's krb5 inquiry OIDs, 1.2.840.113554.1.2.2.5.N (gssapi_krb5.c), as the bytes of a gss_OID:
// the krb5 mechanism's followed by 5 and N. MIT takes the first entry of its table that the OID
// asked for starts with, so only exact matches are answered here (MIT would hand ".5.5.1" to the
// session-key handler too).
const std::string& krb5_inquiry_arc() {
  static const std::string arc = gss::oids::krb5().der() + '\x05';
  return arc;
}
constexpr char kTicketFlagsArc = 1;  // gss_krb5_get_tkt_flags
constexpr char kSessionKeyArc = 5;   // GSS_C_INQ_SSPI_SESSION_KEY
constexpr char kLucidArc = 6;        // gss_krb5_export_lucid_sec_context, + the version
constexpr char kAuthzDataArc = 10;   // gsskrb5_extract_authz_data_from_sec_context, + the ad-type
constexpr char kAuthtimeArc = 12;    // gsskrb5_extract_authtime_from_sec_context
constexpr char kSaslSsfArc = 15;     // GSS_C_SEC_CONTEXT_SASL_SSF: the enctype's strength in bits

// What may be asked: what the context's ticket says (flags, authorization data, authtime) and the
// strength of its enctype (the SASL SSF, which Cyrus SASL and other SASL/GSSAPI servers ask for),
// which a caller holding the context may know, and the session key where the rule lets session keys
// leave (export_context). Anything else is not answered: lucid contexts hold the keys as pointers
// into this process, and other OIDs (the NegoEx keys among them) are not known to be harmless.
enum class Inquiry { kRefused, kTicket, kSessionKey };
Inquiry inquiry_of(const gss::Oid& oid, std::string* why) {
  const std::string& der = oid.der();
  const std::string& arc = krb5_inquiry_arc();
  const std::string not_for = absl::StrCat("not for ", oid.dotted());
  if (!absl::StartsWith(der, arc) || der.size() <= arc.size()) {
    *why = not_for;
    return Inquiry::kRefused;
  }
  const char n = der[arc.size()];
  const std::string_view suffix = std::string_view(der).substr(arc.size() + 1);
  if (suffix.empty() && (n == kTicketFlagsArc || n == kAuthtimeArc || n == kSaslSsfArc)) {
    return Inquiry::kTicket;
  }
  if (suffix.empty() && n == kSessionKeyArc) return Inquiry::kSessionKey;
  if (n == kAuthzDataArc) {
    // One more arc, the authorization-data type: at most 4 bytes of base 128, so MIT's decoding
    // of it into an int cannot overflow.
    const bool one_arc = !suffix.empty() && suffix.size() <= 4 &&
                         (static_cast<unsigned char>(suffix.back()) & 0x80) == 0 &&
                         std::all_of(suffix.begin(), suffix.end() - 1, [](char c) {
                           return (static_cast<unsigned char>(c) & 0x80) != 0;
                         });
    if (one_arc) return Inquiry::kTicket;
    *why = absl::StrCat(not_for,
                        " (authorization data is asked for with its type as one more arc: "
                        "1.2.840.113554.1.2.2.5.10.TYPE)");
    return Inquiry::kRefused;
  }
  if (n == kLucidArc) {
    *why = absl::StrCat(not_for,
                        ": a lucid context needs the keys in the process; export the context "
                        "instead, where policy allows it, and ask MIT for the lucid form there");
    return Inquiry::kRefused;
  }
  *why = not_for;
  return Inquiry::kRefused;
}
}  // namespace

// gss_inquire_sec_context_by_oid for the OIDs inquiry_of() answers.
absl::Status Service::InquireSecContextByOid(const Call& call,
                                             const v1::InquireSecContextByOidRequest& request,
                                             v1::InquireSecContextByOidReply* reply) {
  GSSGATE_ASSIGN_OR_RETURN(gss::Oid oid, required_oid_field(request.oid(), "oid"));
  // The handle first: a handle that is not the caller's is NOT_FOUND whatever OID is asked and
  // whatever the policy.
  GSSGATE_ASSIGN_OR_RETURN(auto entry,
                           table().find(call.owner, request.context(), HandleKind::kContext));
  std::string why;
  const Inquiry inquiry = inquiry_of(oid, &why);
  auto refuse = [&](OM_uint32 major, std::string text) {
    to_proto(refusal("gss_inquire_sec_context_by_oid", major, std::move(text)),
             reply->mutable_status());
    return absl::OkStatus();
  };
  if (inquiry == Inquiry::kRefused) {
    return refuse(GSS_S_UNAVAILABLE,
                  absl::StrCat("gssgated answers gss_inquire_sec_context_by_oid only for a "
                               "context's ticket flags, authtime, authorization data and SASL "
                               "SSF, and for its session key where policy grants export_context; ",
                               why));
  }
  if (inquiry == Inquiry::kSessionKey) {
    GSSGATE_RETURN_IF_ERROR(require(call, Right::kExportContext, "inquire_sec_context_by_oid",
                                    "reading a security context's session key"));
  }
  std::vector<std::string> values;
  gss::GssStatus status;
  {
    absl::MutexLock lock(&entry->mu);
    gss::ContextInfo info;
    if (inquiry == Inquiry::kSessionKey &&
        (!gss::inquire_context(entry->context, &info, {.initiator = false, .target = false}).ok() ||
         !info.open)) {
      // SPNEGO answers from its inner context before its own exchange (the mechListMIC) is
      // done; a key leaves only a complete context, as with ExportContext.
      return refuse(GSS_S_NO_CONTEXT,
                    "the context is not complete yet; its session key is given only once it is");
    }
    status = gss::inquire_sec_context_by_oid(entry->context, oid, &values);
  }
  to_proto(status, reply->mutable_status());
  for (std::string& v : values) reply->add_values(std::move(v));
  if (inquiry == Inquiry::kSessionKey) {
    // Key material left the daemon: an audit line as for an exported context (never the bytes).
    audit(call, "inquire_sec_context_by_oid", absl::StrCat("oid=", oid.dotted()),
          status.ok() ? "ok" : absl::StrCat("gss-error ", log_value(status.message())));
  }
  return absl::OkStatus();
}

}  // namespace gssgate::daemon
