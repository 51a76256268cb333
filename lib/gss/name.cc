#include "lib/gss/name.h"

#include <gssapi/gssapi_ext.h>

#include <cstdint>

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

std::string check_exported_name_token(std::string_view token) {
  auto be = [&](size_t at, size_t n) {
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v = (v << 8) | static_cast<unsigned char>(token[at + i]);
    return v;
  };
  if (token.size() < 4 || token[0] != '\x04' || token[1] != '\x01') {
    return "it does not start with the token id 04 01";
  }
  const uint64_t oid_length = be(2, 2);
  if (oid_length < 3 || token.size() < 4 + oid_length + 4) return "it is truncated";
  if (token[4] != '\x06' || static_cast<unsigned char>(token[5]) != oid_length - 2) {
    return "its mechanism is not a DER OID of the stated length";
  }
  const size_t name_at = 4 + oid_length + 4;
  const uint64_t name_length = be(4 + oid_length, 4);
  if (token.size() - name_at != name_length) {
    return token.size() - name_at < name_length ? "its name is truncated"
                                                : "it has bytes after the name";
  }
  if (token.substr(name_at).find('\0') != std::string_view::npos) return "its name holds a NUL";
  return "";
}

std::optional<std::string> composite_token_without_attributes(std::string_view token) {
  constexpr std::string_view kNoAttributes("\0\0\0\0", 4);
  if (token.size() < 8 || token[0] != '\x04' || token[1] != '\x02' ||
      token.substr(token.size() - 4) != kNoAttributes) {
    return std::nullopt;
  }
  std::string plain(token.substr(0, token.size() - 4));
  plain[1] = '\x01';
  if (!check_exported_name_token(plain).empty()) return std::nullopt;
  return plain;
}

std::optional<DisplayedName> krb5_display_from_token(std::string_view token) {
  if (token.size() < 6 || token[0] != '\x04' || (token[1] != '\x01' && token[1] != '\x02')) {
    return std::nullopt;
  }
  const bool composite = token[1] == '\x02';
  const std::string& krb5 = oids::krb5().der();
  const size_t oid_length =
      (static_cast<unsigned char>(token[2]) << 8) | static_cast<unsigned char>(token[3]);
  if (oid_length != krb5.size() + 2 || token[4] != '\x06' ||
      static_cast<unsigned char>(token[5]) != krb5.size() || token.size() < 4 + oid_length + 4 ||
      token.substr(6, krb5.size()) != krb5) {
    return std::nullopt;
  }
  const size_t name_at = 4 + oid_length + 4;
  uint64_t name_length = 0;
  for (size_t i = 4 + oid_length; i < name_at; ++i) {
    name_length = (name_length << 8) | static_cast<unsigned char>(token[i]);
  }
  const size_t room = token.size() - name_at;
  if (composite) {
    // MIT's composite token: the name, then a four-byte length of the attribute data and exactly
    // that much of it.
    if (name_length > room || room - name_length < 4) return std::nullopt;
    uint64_t attributes_length = 0;
    for (size_t i = name_at + name_length; i < name_at + name_length + 4; ++i) {
      attributes_length = (attributes_length << 8) | static_cast<unsigned char>(token[i]);
    }
    if (attributes_length != room - name_length - 4) return std::nullopt;
  } else if (name_length != room) {
    return std::nullopt;
  }
  std::string_view text = token.substr(name_at, name_length);
  if (text.find('\0') != std::string_view::npos) return std::nullopt;
  if (text == "WELLKNOWN/ANONYMOUS@WELLKNOWN:ANONYMOUS") return std::nullopt;
  return DisplayedName{std::string(text), oids::nt_krb5_principal_name()};
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

GssStatus export_name_composite(const NameHandle& name, std::string* out) {
  OM_uint32 minor = 0;
  Buffer token;
  OM_uint32 major = gss_export_name_composite(&minor, name.get(), token.out());
  GssStatus status = check("gss_export_name_composite", major, minor);
  if (status.ok()) *out = token.str();
  return status;
}

GssStatus display_name_ext(const NameHandle& name, const Oid& type, std::string* out) {
  OM_uint32 minor = 0;
  gss_OID_desc type_desc = type.desc();
  Buffer text;
  OM_uint32 major = gss_display_name_ext(&minor, name.get(), &type_desc, text.out());
  GssStatus status = check("gss_display_name_ext", major, minor);
  if (status.ok()) *out = text.str();
  return status;
}

GssStatus inquire_name(const NameHandle& name, NameInfo* out) {
  OM_uint32 minor = 0;
  int is_mn = 0;
  gss_OID mech = GSS_C_NO_OID;
  gss_buffer_set_t attrs = GSS_C_NO_BUFFER_SET;
  OM_uint32 major = gss_inquire_name(&minor, name.get(), &is_mn, &mech, &attrs);
  GssStatus status = check("gss_inquire_name", major, minor);
  if (status.ok()) {
    NameInfo info;
    info.is_mech_name = is_mn != 0;
    if (info.is_mech_name) info.mech = Oid::from_gss(mech);
    if (attrs != GSS_C_NO_BUFFER_SET) {
      for (size_t i = 0; i < attrs->count; ++i) {
        const gss_buffer_desc& a = attrs->elements[i];
        info.attributes.emplace_back(static_cast<const char*>(a.value), a.length);
      }
    }
    *out = std::move(info);
  }
  // MIT hands out a copy of the mechanism OID (gssint_get_mech_type_oid → generic_gss_copy_oid):
  // ours to release, like the attribute set.
  OM_uint32 ignored = 0;
  if (mech != GSS_C_NO_OID) gss_release_oid(&ignored, &mech);
  gss_release_buffer_set(&ignored, &attrs);
  return status;
}

GssStatus get_name_attribute(const NameHandle& name, std::string_view attribute,
                             NameAttribute* out) {
  gss_buffer_desc attr = input_buffer(attribute);
  NameAttribute result;
  // RFC 6680 §7.5: start with more = -1 and call until it is 0. Bounded so a mechanism that never
  // says 0 cannot spin the daemon.
  constexpr int kMaxValues = 1024;
  int more = -1;
  for (int i = 0; i < kMaxValues && more != 0; ++i) {
    OM_uint32 minor = 0;
    int authenticated = 0;
    int complete = 0;
    Buffer value;
    Buffer display;
    OM_uint32 major = gss_get_name_attribute(&minor, name.get(), &attr, &authenticated, &complete,
                                             value.out(), display.out(), &more);
    GssStatus status = check("gss_get_name_attribute", major, minor);
    if (!status.ok()) return status;
    result.authenticated = authenticated != 0;
    result.complete = complete != 0;
    result.values.push_back(value.str());
    result.display_values.push_back(display.str());
  }
  *out = std::move(result);
  return GssStatus();
}

GssStatus set_name_attribute(const NameHandle& name, std::string_view attribute, bool complete,
                             const std::vector<std::string>& values) {
  gss_buffer_desc attr = input_buffer(attribute);
  for (const std::string& v : values) {
    OM_uint32 minor = 0;
    gss_buffer_desc value = input_buffer(v);
    OM_uint32 major = gss_set_name_attribute(&minor, name.get(), complete ? 1 : 0, &attr, &value);
    GssStatus status = check("gss_set_name_attribute", major, minor);
    if (!status.ok()) return status;
  }
  return GssStatus();
}

GssStatus delete_name_attribute(const NameHandle& name, std::string_view attribute) {
  OM_uint32 minor = 0;
  gss_buffer_desc attr = input_buffer(attribute);
  OM_uint32 major = gss_delete_name_attribute(&minor, name.get(), &attr);
  return check("gss_delete_name_attribute", major, minor);
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
