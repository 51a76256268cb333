#include "lib/gss/oid.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "lib/util/oid_codec.h"

namespace gssgate::gss {
absl::StatusOr<Oid> Oid::from_dotted(std::string_view dotted) {
  std::optional<std::string> der = internal::oid_der_from_dotted(dotted);
  if (!der) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a dotted OID: \"", std::string(dotted),
                     "\" (needs at least two numeric arcs; the first is 0, 1 or 2)"));
  }
  return Oid(std::move(*der));
}

absl::StatusOr<Oid> Oid::from_der(std::string_view der) {
  if (!internal::oid_dotted_from_der(der)) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a DER-encoded OID (", der.size(), " bytes)"));
  }
  return Oid(std::string(der));
}

Oid Oid::from_gss(gss_const_OID oid) {
  if (oid == GSS_C_NO_OID || oid->length == 0) return Oid();
  return Oid(std::string(static_cast<const char*>(oid->elements), oid->length));
}

std::string Oid::dotted() const {
  if (der_.empty()) return "";
  return internal::oid_dotted_from_der(der_).value_or("<invalid OID>");
}

std::vector<Oid> oids_from_set(gss_const_OID_set set) {
  std::vector<Oid> out;
  if (set == GSS_C_NO_OID_SET) return out;
  out.reserve(set->count);
  for (size_t i = 0; i < set->count; ++i) out.push_back(Oid::from_gss(&set->elements[i]));
  return out;
}

namespace oids {
// The literals are valid; a typo makes .value() abort in every test at once.
#define GSSGATE_WELL_KNOWN_OID(name, dotted)                 \
  const Oid& name() {                                        \
    static const Oid oid = Oid::from_dotted(dotted).value(); \
    return oid;                                              \
  }
GSSGATE_WELL_KNOWN_OID(krb5, "1.2.840.113554.1.2.2")
GSSGATE_WELL_KNOWN_OID(spnego, "1.3.6.1.5.5.2")
GSSGATE_WELL_KNOWN_OID(iakerb, "1.3.6.1.5.2.5")
GSSGATE_WELL_KNOWN_OID(krb5_old, "1.3.5.1.5.2")
GSSGATE_WELL_KNOWN_OID(krb5_ms, "1.2.840.48018.1.2.2")
GSSGATE_WELL_KNOWN_OID(ntlm, "1.3.6.1.4.1.311.2.2.10")
GSSGATE_WELL_KNOWN_OID(nt_hostbased_service, "1.2.840.113554.1.2.1.4")
GSSGATE_WELL_KNOWN_OID(nt_user_name, "1.2.840.113554.1.2.1.1")
GSSGATE_WELL_KNOWN_OID(nt_machine_uid_name, "1.2.840.113554.1.2.1.2")
GSSGATE_WELL_KNOWN_OID(nt_string_uid_name, "1.2.840.113554.1.2.1.3")
GSSGATE_WELL_KNOWN_OID(nt_krb5_principal_name, "1.2.840.113554.1.2.2.1")
GSSGATE_WELL_KNOWN_OID(nt_export_name, "1.3.6.1.5.6.4")
GSSGATE_WELL_KNOWN_OID(nt_composite_export, "1.3.6.1.5.6.6")
GSSGATE_WELL_KNOWN_OID(nt_anonymous, "1.3.6.1.5.6.3")
#undef GSSGATE_WELL_KNOWN_OID
}  // namespace oids

}  // namespace gssgate::gss
