#pragma once

/* RFC 5587 mechanism attributes, from C: MIT 1.20's gssapi.h declares gss_inquire_attrs_for_mech
 * after its extern "C" block closes, so C++ would link against a mangled name that does not
 * exist (docs/stack-notes.md). */

#include <gssapi/gssapi.h>

#ifdef __cplusplus
extern "C" {
#endif

/* 1 when MIT's mechglue acquires credentials for `mech` if asked for its default mechanisms:
 * the mechanism's attributes say neither GSS_C_MA_DEPRECATED nor GSS_C_MA_NOT_DFLT_MECH (a
 * mechanism without RFC 5587 support counts as default, as in MIT). 0 otherwise, or when MIT
 * does not know `mech`. */
int gssgate_is_default_mech(const gss_OID_desc* mech);

#ifdef __cplusplus
}
#endif
