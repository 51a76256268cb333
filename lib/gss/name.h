#pragma once

// GSSAPI names (RFC 2744 §5.x names; RFC 6680 is added with the client issue).
// Every function returns the rendered GssStatus of its gss_* call; outputs are written only on
// success.

#include <string>
#include <string_view>

#include "lib/gss/handles.h"
#include "lib/gss/oid.h"
#include "lib/gss/status.h"

namespace gssgate::gss {

// gss_import_name. An empty `type` means the mechanism's default printable syntax.
GssStatus import_name(std::string_view value, const Oid& type, NameHandle* out);

struct DisplayedName {
  std::string text;
  Oid type;  // the name type the text is in; empty for GSS_C_NO_OID
};
// gss_display_name.
GssStatus display_name(const NameHandle& name, DisplayedName* out);

// gss_canonicalize_name: a mechanism name (MN) for `mech`.
GssStatus canonicalize_name(const NameHandle& name, const Oid& mech, NameHandle* out);

// gss_export_name: the RFC 2743 §3.2 exported-name token. The name must be an MN.
GssStatus export_name(const NameHandle& name, std::string* out);

// gss_compare_name.
GssStatus compare_names(const NameHandle& a, const NameHandle& b, bool* equal);

// gss_duplicate_name.
GssStatus duplicate_name(const NameHandle& name, NameHandle* out);

}  // namespace gssgate::gss
