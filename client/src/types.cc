#include "gssgate/types.h"

#include <bit>
#include <stdexcept>

#include "lib/util/oid_codec.h"

namespace gssgate {

OID OID::from_int_seq(std::string_view dotted) {
  std::optional<std::string> der = internal::oid_der_from_dotted(dotted);
  if (!der) throw std::invalid_argument("not a dotted OID: \"" + std::string(dotted) + "\"");
  return OID(std::move(*der));
}

OID OID::from_der(std::string_view der) {
  if (!internal::oid_dotted_from_der(der)) {
    throw std::invalid_argument("not a DER-encoded OID (" + std::to_string(der.size()) + " bytes)");
  }
  return OID(std::string(der));
}

std::string OID::dotted_form() const { return internal::oid_dotted_from_der(der_).value_or(""); }

#define GSSGATE_OID(Type, name, dotted)               \
  const OID& Type::name() {                           \
    static const OID oid = OID::from_int_seq(dotted); \
    return oid;                                       \
  }
GSSGATE_OID(NameType, hostbased_service, "1.2.840.113554.1.2.1.4")
GSSGATE_OID(NameType, user, "1.2.840.113554.1.2.1.1")
GSSGATE_OID(NameType, machine_uid, "1.2.840.113554.1.2.1.2")
GSSGATE_OID(NameType, string_uid, "1.2.840.113554.1.2.1.3")
GSSGATE_OID(NameType, anonymous, "1.3.6.1.5.6.3")
GSSGATE_OID(NameType, export_, "1.3.6.1.5.6.4")
GSSGATE_OID(NameType, composite_export, "1.3.6.1.5.6.6")
GSSGATE_OID(NameType, kerberos_principal, "1.2.840.113554.1.2.2.1")
GSSGATE_OID(NameType, krb5_nt_principal_name, "1.2.840.113554.1.2.2.1")
GSSGATE_OID(MechType, kerberos, "1.2.840.113554.1.2.2")
GSSGATE_OID(MechType, spnego, "1.3.6.1.5.5.2")
#undef GSSGATE_OID

RequirementFlagSet::RequirementFlagSet(std::initializer_list<RequirementFlag> flags) {
  for (RequirementFlag f : flags) add(f);
}

RequirementFlagSet RequirementFlagSet::from_int(uint32_t bits) {
  RequirementFlagSet s;
  s.bits_ = bits;
  return s;
}

namespace {
constexpr RequirementFlag kAllFlags[] = {
    RequirementFlag::delegate_to_peer, RequirementFlag::mutual_authentication,
    RequirementFlag::replay_detection, RequirementFlag::out_of_sequence_detection,
    RequirementFlag::confidentiality,  RequirementFlag::integrity,
    RequirementFlag::anonymity,        RequirementFlag::protection_ready,
    RequirementFlag::transferable,     RequirementFlag::channel_bound,
    RequirementFlag::dce_style,        RequirementFlag::identify,
    RequirementFlag::extended_error,   RequirementFlag::ok_as_delegate,
};
}  // namespace

size_t RequirementFlagSet::size() const { return members().size(); }

std::vector<RequirementFlag> RequirementFlagSet::members() const {
  std::vector<RequirementFlag> out;
  for (RequirementFlag f : kAllFlags) {
    if (contains(f)) out.push_back(f);
  }
  return out;
}

const char* to_string(RequirementFlag flag) {
  switch (flag) {
    case RequirementFlag::delegate_to_peer:
      return "delegate_to_peer";
    case RequirementFlag::mutual_authentication:
      return "mutual_authentication";
    case RequirementFlag::replay_detection:
      return "replay_detection";
    case RequirementFlag::out_of_sequence_detection:
      return "out_of_sequence_detection";
    case RequirementFlag::confidentiality:
      return "confidentiality";
    case RequirementFlag::integrity:
      return "integrity";
    case RequirementFlag::anonymity:
      return "anonymity";
    case RequirementFlag::protection_ready:
      return "protection_ready";
    case RequirementFlag::transferable:
      return "transferable";
    case RequirementFlag::channel_bound:
      return "channel_bound";
    case RequirementFlag::dce_style:
      return "dce_style";
    case RequirementFlag::identify:
      return "identify";
    case RequirementFlag::extended_error:
      return "extended_error";
    case RequirementFlag::ok_as_delegate:
      return "ok_as_delegate";
  }
  return "unknown";
}

}  // namespace gssgate
