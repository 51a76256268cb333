#include "lib/gss/mech_attrs.h"

#include <string.h>

static int has_attr(gss_const_OID_set attrs, gss_const_OID attr) {
  for (size_t i = 0; i < attrs->count; ++i) {
    if (attrs->elements[i].length == attr->length &&
        memcmp(attrs->elements[i].elements, attr->elements, attr->length) == 0) {
      return 1;
    }
  }
  return 0;
}

int gssgate_is_default_mech(const gss_OID_desc* mech) {
  OM_uint32 minor = 0;
  gss_OID_set attrs = GSS_C_NO_OID_SET;
  if (GSS_ERROR(gss_inquire_attrs_for_mech(&minor, mech, &attrs, NULL))) return 0;
  if (attrs == GSS_C_NO_OID_SET) return 1;
  const int excluded =
      has_attr(attrs, GSS_C_MA_DEPRECATED) || has_attr(attrs, GSS_C_MA_NOT_DFLT_MECH);
  gss_release_oid_set(&minor, &attrs);
  return !excluded;
}
