#pragma once

// The one path for GSSAPI results: every gss_* call in lib/ goes through gss::check(), which turns
// (major, minor) into a GssStatus with both codes rendered by gss_display_status right away, on the
// calling thread (MIT krb5 keeps the extended minor-status text in thread-local storage, so it must
// be rendered before the thread makes another GSSAPI call).

#include <gssapi/gssapi.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "lib/gss/oid.h"

namespace gssgate::gss {

struct GssStatus {
  // The GSSAPI routine that produced this status, e.g. "gss_accept_sec_context"; empty when OK
  // without a call.
  std::string operation;
  OM_uint32 major = GSS_S_COMPLETE;
  OM_uint32 minor = 0;
  // Mechanism that produced `minor` (empty if unknown).
  Oid mech;
  // gss_display_status lines for major (GSS_C_GSS_CODE) and minor (GSS_C_MECH_CODE). Empty when
  // the corresponding code is zero.
  std::vector<std::string> major_text;
  std::vector<std::string> minor_text;

  // True unless the major status holds a calling or routine error. CONTINUE_NEEDED and
  // supplementary bits (duplicate, old, unseq, gap token) are not errors.
  bool ok() const { return GSS_ERROR(major) == 0; }
  OM_uint32 calling_error() const { return GSS_CALLING_ERROR(major); }
  OM_uint32 routine_error() const { return GSS_ROUTINE_ERROR(major); }
  OM_uint32 supplementary() const { return GSS_SUPPLEMENTARY_INFO(major); }
  bool continue_needed() const { return (major & GSS_S_CONTINUE_NEEDED) != 0; }

  // "gss_x: Major (N): text, Minor (M): text" — python-gssapi's message shape (several display
  // lines joined with " -- "), prefixed with the operation when known.
  std::string message() const;

  // For code paths that only need success or failure: OK when ok(), otherwise an error whose code
  // maps the routine error (e.g. NO_CRED → FAILED_PRECONDITION, DEFECTIVE_TOKEN → INVALID_ARGUMENT)
  // and whose message is message().
  absl::Status to_absl() const;
};

// Renders a status. `mech` is the mechanism the minor code belongs to, when known; GSS_C_NO_OID
// lets the mechglue pick the mechanism that last set a minor code on this thread.
GssStatus check(const char* operation, OM_uint32 major, OM_uint32 minor,
                gss_const_OID mech = GSS_C_NO_OID);

// The display loop used by check(); exposed for tests. At most 8 rounds and 4 KiB of text, so a
// misbehaving mechanism cannot make the loop spin or the reply grow without bound.
std::vector<std::string> display_status(OM_uint32 code, int code_type, gss_const_OID mech);

}  // namespace gssgate::gss
