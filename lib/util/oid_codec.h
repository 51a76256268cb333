#pragma once

// ASN.1 OBJECT IDENTIFIER contents octets (X.690 §8.19) ⇄ dotted text. No GSSAPI dependency, so
// the client library shares it with lib/gss without linking MIT krb5.

#include <optional>
#include <string>
#include <string_view>

namespace gssgate::internal {

// "1.2.840.113554.1.2.2" → contents octets; nullopt if not a valid OID (fewer than two arcs, first
// arc above 2, second above 39 under arcs 0/1, non-digits, overflow).
std::optional<std::string> oid_der_from_dotted(std::string_view dotted);
// Contents octets → dotted text; nullopt if not minimal, complete base-128 sub-identifiers.
std::optional<std::string> oid_dotted_from_der(std::string_view der);

}  // namespace gssgate::internal
