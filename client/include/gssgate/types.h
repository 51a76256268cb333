#pragma once

/// @file
/// Value types of the high-level API: OID, NameType, MechType, RequirementFlag and its flag set,
/// AddressType and ChannelBindings (python-gssapi's gssapi.OID, gssapi.NameType, …).

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace gssgate {

/// An ASN.1 object identifier.
class OID {
 public:
  OID() = default;
  /// From dotted text ("1.2.840.113554.1.2.2"); throws std::invalid_argument (python's
  /// ValueError) if it is not one.
  static OID from_int_seq(std::string_view dotted);
  /// From DER contents octets; throws std::invalid_argument if malformed.
  static OID from_der(std::string_view der);

  /// The DER contents octets (python: bytes(oid)).
  const std::string& bytes() const { return der_; }
  /// Dotted text (python: oid.dotted_form and str(oid)).
  std::string dotted_form() const;
  bool empty() const { return der_.empty(); }

  friend bool operator==(const OID&, const OID&) = default;
  friend auto operator<=>(const OID&, const OID&) = default;

 private:
  explicit OID(std::string der) : der_(std::move(der)) {}
  std::string der_;
};

/// Name types (python: gssapi.NameType).
struct NameType {
  static const OID& hostbased_service();
  static const OID& user();
  static const OID& machine_uid();
  static const OID& string_uid();
  static const OID& anonymous();
  /// `export` is a C++ keyword.
  static const OID& export_();
  static const OID& composite_export();
  static const OID& kerberos_principal();
  static const OID& krb5_nt_principal_name();
};

/// Mechanisms (python: gssapi.MechType).
struct MechType {
  static const OID& kerberos();
  static const OID& spnego();
};

/// Context flags (python: gssapi.RequirementFlag), with GSSAPI's bit values.
enum class RequirementFlag : uint32_t {
  delegate_to_peer = 1,
  mutual_authentication = 2,
  replay_detection = 4,
  out_of_sequence_detection = 8,
  confidentiality = 16,
  integrity = 32,
  anonymity = 64,
  protection_ready = 128,
  transferable = 256,
  channel_bound = 2048,
  dce_style = 4096,
  identify = 8192,
  extended_error = 16384,
  ok_as_delegate = 32768,
};

/// A set of RequirementFlag (python: IntEnumFlagSet). Bits with no enumerator are kept, so a mask
/// from GSSAPI round-trips.
class RequirementFlagSet {
 public:
  RequirementFlagSet() = default;
  RequirementFlagSet(std::initializer_list<RequirementFlag> flags);
  static RequirementFlagSet from_int(uint32_t bits);

  uint32_t to_int() const { return bits_; }
  bool contains(RequirementFlag f) const { return (bits_ & static_cast<uint32_t>(f)) != 0; }
  bool empty() const { return bits_ == 0; }
  size_t size() const;
  void add(RequirementFlag f) { bits_ |= static_cast<uint32_t>(f); }
  void discard(RequirementFlag f) { bits_ &= ~static_cast<uint32_t>(f); }
  /// The members with an enumerator, in bit order (python: iteration).
  std::vector<RequirementFlag> members() const;

  RequirementFlagSet operator|(RequirementFlagSet o) const { return from_int(bits_ | o.bits_); }
  RequirementFlagSet operator&(RequirementFlagSet o) const { return from_int(bits_ & o.bits_); }
  RequirementFlagSet operator^(RequirementFlagSet o) const { return from_int(bits_ ^ o.bits_); }
  RequirementFlagSet operator-(RequirementFlagSet o) const { return from_int(bits_ & ~o.bits_); }
  friend bool operator==(const RequirementFlagSet&, const RequirementFlagSet&) = default;

 private:
  uint32_t bits_ = 0;
};

/// The name of a flag ("mutual_authentication").
const char* to_string(RequirementFlag flag);

/// Channel-binding address types (python: gssapi.AddressType), GSS_C_AF_* values.
enum class AddressType : uint32_t {
  unspecified = 0,
  local = 1,
  ip = 2,
  arpanet = 3,
  pup = 4,
  chaos = 5,
  xerox_ns = 6,
  nbs = 7,
  ecma = 8,
  datakit = 9,
  ccitt = 10,
  sna = 11,
  decnet = 12,
  dli = 13,
  lat = 14,
  hylink = 15,
  appletalk = 16,
  bisync = 17,
  dss = 18,
  osi_tp4 = 19,
  x25 = 21,
  null_address = 255,
};

/// RFC 2744 §3.11 channel bindings (python: gssapi.raw.ChannelBindings).
struct ChannelBindings {
  AddressType initiator_address_type = AddressType::unspecified;
  std::string initiator_address;
  AddressType acceptor_address_type = AddressType::unspecified;
  std::string acceptor_address;
  std::string application_data;
};

/// python's gssapi.set_encoding: the encoding GSSAPI's name bytes are in. Text handed to
/// Name(text) is taken as UTF-8 and converted to it; Name::str() and display_as() convert back to
/// UTF-8. Attribute names (keys) are text too: converted to it when passed to
/// name.attributes()[key], set(), erase(), contains(), and back to UTF-8 when listed. Name::bytes(),
/// Name::from_bytes(), tokens, attribute values and store entries are bytes and never converted.
/// Default "utf-8". Process-wide and thread-safe; throws
/// std::invalid_argument for an encoding iconv does not know (python fails later, at first use).
void set_encoding(std::string_view encoding);
/// The current encoding, as given to set_encoding().
std::string get_encoding();

}  // namespace gssgate

template <>
struct std::hash<gssgate::OID> {
  size_t operator()(const gssgate::OID& oid) const noexcept {
    return std::hash<std::string>()(oid.bytes());
  }
};
