#include "lib/gss/name.h"

namespace gssgate::gss {

GssStatus import_name(std::string_view value, const Oid& type, NameHandle* out) {
  OM_uint32 minor = 0;
  gss_buffer_desc in = input_buffer(value);
  gss_OID_desc type_desc = type.desc();
  NameHandle name;
  OM_uint32 major =
      gss_import_name(&minor, &in, type.empty() ? GSS_C_NO_OID : &type_desc, name.out());
  GssStatus status = check("gss_import_name", major, minor);
  if (status.ok()) *out = std::move(name);
  return status;
}

GssStatus display_name(const NameHandle& name, DisplayedName* out) {
  OM_uint32 minor = 0;
  Buffer text;
  gss_OID type = GSS_C_NO_OID;
  OM_uint32 major = gss_display_name(&minor, name.get(), text.out(), &type);
  GssStatus status = check("gss_display_name", major, minor);
  if (status.ok()) *out = DisplayedName{text.str(), Oid::from_gss(type)};
  return status;
}

GssStatus canonicalize_name(const NameHandle& name, const Oid& mech, NameHandle* out) {
  OM_uint32 minor = 0;
  gss_OID_desc mech_desc = mech.desc();
  NameHandle mn;
  OM_uint32 major = gss_canonicalize_name(&minor, name.get(), &mech_desc, mn.out());
  GssStatus status = check("gss_canonicalize_name", major, minor, &mech_desc);
  if (status.ok()) *out = std::move(mn);
  return status;
}

GssStatus export_name(const NameHandle& name, std::string* out) {
  OM_uint32 minor = 0;
  Buffer token;
  OM_uint32 major = gss_export_name(&minor, name.get(), token.out());
  GssStatus status = check("gss_export_name", major, minor);
  if (status.ok()) *out = token.str();
  return status;
}

GssStatus compare_names(const NameHandle& a, const NameHandle& b, bool* equal) {
  OM_uint32 minor = 0;
  int result = 0;
  OM_uint32 major = gss_compare_name(&minor, a.get(), b.get(), &result);
  GssStatus status = check("gss_compare_name", major, minor);
  if (status.ok()) *equal = result != 0;
  return status;
}

GssStatus duplicate_name(const NameHandle& name, NameHandle* out) {
  OM_uint32 minor = 0;
  NameHandle copy;
  OM_uint32 major = gss_duplicate_name(&minor, name.get(), copy.out());
  GssStatus status = check("gss_duplicate_name", major, minor);
  if (status.ok()) *out = std::move(copy);
  return status;
}

}  // namespace gssgate::gss
