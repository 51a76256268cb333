#pragma once

// An ASN.1 object identifier as a value type, and the well-known GSSAPI OIDs.

#include <gssapi/gssapi.h>

#include <compare>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace gssgate::gss {

// Holds the DER contents octets of an OID (no tag, no length), which is what gss_OID_desc carries.
// Cheap to copy; equality and hashing are on the bytes. The empty Oid means "no OID"
// (GSS_C_NO_OID).
class Oid {
 public:
  Oid() = default;

  // Parses "1.2.840.113554.1.2.2". Errors: INVALID_ARGUMENT naming the offending text.
  static absl::StatusOr<Oid> from_dotted(std::string_view dotted);
  // Takes DER contents octets; validates the base-128 encoding. Errors: INVALID_ARGUMENT.
  static absl::StatusOr<Oid> from_der(std::string_view der);
  // Copies a GSSAPI OID; GSS_C_NO_OID gives the empty Oid. The bytes are not validated (they come
  // from the GSSAPI library).
  static Oid from_gss(gss_const_OID oid);

  bool empty() const { return der_.empty(); }
  const std::string& der() const { return der_; }
  std::string dotted() const;

  // A descriptor that points into this object: valid while it lives and is not modified.
  gss_OID_desc desc() const {
    return gss_OID_desc{static_cast<OM_uint32>(der_.size()), const_cast<char*>(der_.data())};
  }

  friend bool operator==(const Oid&, const Oid&) = default;
  friend auto operator<=>(const Oid&, const Oid&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const Oid& oid) {
    return H::combine(std::move(h), oid.der_);
  }

 private:
  explicit Oid(std::string der) : der_(std::move(der)) {}
  std::string der_;
};

// Copies a GSSAPI OID set into a vector (GSS_C_NO_OID_SET gives an empty vector).
std::vector<Oid> oids_from_set(gss_const_OID_set set);

// Well-known OIDs. Names follow RFC 2743/2744, RFC 4121, RFC 4178, RFC 6680 and MIT's headers.
namespace oids {
// Mechanisms.
const Oid& krb5();    // 1.2.840.113554.1.2.2
const Oid& spnego();  // 1.3.6.1.5.5.2
const Oid& iakerb();  // 1.3.6.1.5.2.5
const Oid& krb5_old();  // 1.3.5.1.5.2, the pre-RFC 1964 Kerberos OID MIT still accepts
const Oid& krb5_ms();   // 1.2.840.48018.1.2.2, the Kerberos OID Microsoft's SPNEGO sends
const Oid& ntlm();      // 1.3.6.1.4.1.311.2.2.10 (not an MIT mechanism; MIT's token sniffer knows it)
// Name types.
const Oid& nt_hostbased_service();    // 1.2.840.113554.1.2.1.4  "service@host"
const Oid& nt_user_name();            // 1.2.840.113554.1.2.1.1
const Oid& nt_machine_uid_name();     // 1.2.840.113554.1.2.1.2
const Oid& nt_string_uid_name();      // 1.2.840.113554.1.2.1.3
const Oid& nt_krb5_principal_name();  // 1.2.840.113554.1.2.2.1
const Oid& nt_export_name();          // 1.3.6.1.5.6.4
const Oid& nt_composite_export();     // 1.3.6.1.5.6.6
const Oid& nt_anonymous();            // 1.3.6.1.5.6.3
}  // namespace oids

}  // namespace gssgate::gss

template <>
struct std::hash<gssgate::gss::Oid> {
  size_t operator()(const gssgate::gss::Oid& oid) const noexcept {
    return std::hash<std::string>()(oid.der());
  }
};
