#pragma once

// GSSAPI names: RFC 2744 names and the RFC 6680 extensions (display_name_ext, composite export,
// inquire_name and name attributes).
// Every function returns the rendered GssStatus of its gss_* call; outputs are written only on
// success.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/gss/handles.h"
#include "lib/gss/oid.h"
#include "lib/gss/status.h"

namespace gssgate::gss {

// gss_import_name. An empty `type` means the mechanism's default printable syntax.
GssStatus import_name(std::string_view value, const Oid& type, NameHandle* out);

// Checks that `token` is exactly an RFC 2743 §3.2 exported name: 04 01, a two-byte length and a
// DER OID (06, short length), a four-byte length and that many name bytes, nothing after, and no
// NUL in the name. Empty string if it is; otherwise what is wrong. MIT 1.20 aborts (a failed
// assert) on some malformed ones, so callers' tokens are checked before gss_import_name sees them.
std::string check_exported_name_token(std::string_view token);

// An RFC 6680 composite exported name whose attribute section is empty (MIT's form: the fields of
// an RFC 2743 token under the token id 04 02, then a four-byte attribute length of 0 and nothing
// after) carries nothing but the name. Returns the plain exported name (04 01) it is equivalent
// to, or nullopt for any other bytes: those are never taken from a caller, as attribute data
// would be parsed from them.
std::optional<std::string> composite_token_without_attributes(std::string_view token);

struct DisplayedName {
  std::string text;
  Oid type;  // the name type the text is in; empty for GSS_C_NO_OID
};
// gss_display_name.
GssStatus display_name(const NameHandle& name, DisplayedName* out);

// What gss_display_name gives for the krb5 mechanism name in `token`, an exported name (RFC 2743,
// 04 01) or a composite one (RFC 6680, 04 02), read from the token instead of asked of MIT (each
// call into MIT's krb5 mechanism makes a krb5 context, which reads the state of krb5.conf). MIT's
// krb5 mechanism writes the same krb5_unparse_name() text into both tokens that gss_display_name
// returns, with the type GSS_KRB5_NT_PRINCIPAL_NAME (src/lib/gssapi/krb5/disp_name.c,
// export_name.c, naming_exts.c). nullopt for another mechanism, a malformed token, or the
// anonymous principal's text (its display type depends on the principal's name type, which the
// token does not carry): ask MIT then.
std::optional<DisplayedName> krb5_display_from_token(std::string_view token);

// gss_canonicalize_name: a mechanism name (MN) for `mech`.
GssStatus canonicalize_name(const NameHandle& name, const Oid& mech, NameHandle* out);

// gss_export_name: the RFC 2743 §3.2 exported-name token. The name must be an MN.
GssStatus export_name(const NameHandle& name, std::string* out);

// gss_export_name_composite (RFC 6680): like export_name, but the token (name type
// 1.3.6.1.5.6.6) also carries the name's attributes, e.g. an accepted initiator's PAC. MIT keeps
// an attribute's "authenticated" bit in the token, so only import tokens from a party you trust to
// hand them back unchanged.
GssStatus export_name_composite(const NameHandle& name, std::string* out);

// gss_display_name_ext (RFC 6680): the name in the syntax of `type`. MIT 1.20 answers only for the
// name type the name already has (GSS_S_UNAVAILABLE otherwise).
GssStatus display_name_ext(const NameHandle& name, const Oid& type, std::string* out);

struct NameInfo {
  bool is_mech_name = false;
  Oid mech;                             // empty unless is_mech_name
  std::vector<std::string> attributes;  // attribute names (RFC 6680 URNs or MIT's short names)
};
// gss_inquire_name (RFC 6680).
GssStatus inquire_name(const NameHandle& name, NameInfo* out);

struct NameAttribute {
  bool authenticated = false;
  bool complete = false;
  std::vector<std::string> values;
  std::vector<std::string> display_values;
};
// gss_get_name_attribute (RFC 6680), every value (the `more` loop, bounded).
GssStatus get_name_attribute(const NameHandle& name, std::string_view attribute,
                             NameAttribute* out);
// gss_set_name_attribute once per value (RFC 6680 sets one value a call).
GssStatus set_name_attribute(const NameHandle& name, std::string_view attribute, bool complete,
                             const std::vector<std::string>& values);
// gss_delete_name_attribute (RFC 6680).
GssStatus delete_name_attribute(const NameHandle& name, std::string_view attribute);

// gss_compare_name.
GssStatus compare_names(const NameHandle& a, const NameHandle& b, bool* equal);

// gss_duplicate_name.
GssStatus duplicate_name(const NameHandle& name, NameHandle* out);

}  // namespace gssgate::gss
