#include "lib/gss/oid.h"

#include <cstdint>
#include <limits>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace gssgate::gss {
namespace {

void append_base128(uint64_t value, std::string* out) {
  char tmp[10];
  int n = 0;
  do {
    tmp[n++] = static_cast<char>(value & 0x7f);
    value >>= 7;
  } while (value != 0);
  while (n > 0) {
    char byte = tmp[--n];
    if (n > 0) byte = static_cast<char>(byte | 0x80);
    out->push_back(byte);
  }
}

// Splits DER contents into sub-identifiers (X.690 §8.19). nullopt-like failure via bool.
bool decode_subids(std::string_view der, std::vector<uint64_t>* out) {
  uint64_t value = 0;
  bool in_subid = false;
  for (unsigned char byte : der) {
    // A sub-identifier must be minimally encoded: no leading 0x80 octet.
    if (!in_subid && byte == 0x80) return false;
    if (value > (std::numeric_limits<uint64_t>::max() >> 7)) return false;
    value = (value << 7) | (byte & 0x7f);
    in_subid = (byte & 0x80) != 0;
    if (!in_subid) {
      out->push_back(value);
      value = 0;
    }
  }
  return !in_subid && !out->empty();
}

}  // namespace

absl::StatusOr<Oid> Oid::from_dotted(std::string_view dotted_text) {
  // Debian's Abseil has its own absl::string_view, distinct from std::string_view.
  absl::string_view dotted(dotted_text.data(), dotted_text.size());
  std::vector<uint64_t> arcs;
  for (absl::string_view part : absl::StrSplit(dotted, '.')) {
    uint64_t arc = 0;
    if (part.empty() || !absl::SimpleAtoi(part, &arc) || part[0] == '+' || part[0] == '-') {
      return absl::InvalidArgumentError(
          absl::StrCat("not a dotted OID: \"", dotted, "\" (bad arc \"", part, "\")"));
    }
    arcs.push_back(arc);
  }
  if (arcs.size() < 2 || arcs[0] > 2 || (arcs[0] < 2 && arcs[1] >= 40) ||
      arcs[1] > std::numeric_limits<uint64_t>::max() - 80) {
    return absl::InvalidArgumentError(absl::StrCat(
        "not a dotted OID: \"", dotted, "\" (needs at least two arcs; the first is 0, 1 or 2)"));
  }
  std::string der;
  append_base128(arcs[0] * 40 + arcs[1], &der);
  for (size_t i = 2; i < arcs.size(); ++i) append_base128(arcs[i], &der);
  return Oid(std::move(der));
}

absl::StatusOr<Oid> Oid::from_der(std::string_view der) {
  std::vector<uint64_t> subids;
  if (!decode_subids(der, &subids)) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a DER-encoded OID (", der.size(), " bytes)"));
  }
  return Oid(std::string(der));
}

Oid Oid::from_gss(gss_const_OID oid) {
  if (oid == GSS_C_NO_OID || oid->length == 0) return Oid();
  return Oid(std::string(static_cast<const char*>(oid->elements), oid->length));
}

std::string Oid::dotted() const {
  std::vector<uint64_t> subids;
  if (!decode_subids(der_, &subids)) return der_.empty() ? "" : "<invalid OID>";
  uint64_t first = subids[0];
  uint64_t a = first < 40 ? 0 : (first < 80 ? 1 : 2);
  std::string out = absl::StrCat(a, ".", first - a * 40);
  for (size_t i = 1; i < subids.size(); ++i) absl::StrAppend(&out, ".", subids[i]);
  return out;
}

std::vector<Oid> oids_from_set(gss_const_OID_set set) {
  std::vector<Oid> out;
  if (set == GSS_C_NO_OID_SET) return out;
  out.reserve(set->count);
  for (size_t i = 0; i < set->count; ++i) out.push_back(Oid::from_gss(&set->elements[i]));
  return out;
}

namespace oids {
// The literals are valid; a typo makes .value() abort in every test at once.
#define GSSGATE_WELL_KNOWN_OID(name, dotted)                 \
  const Oid& name() {                                        \
    static const Oid oid = Oid::from_dotted(dotted).value(); \
    return oid;                                              \
  }
GSSGATE_WELL_KNOWN_OID(krb5, "1.2.840.113554.1.2.2")
GSSGATE_WELL_KNOWN_OID(spnego, "1.3.6.1.5.5.2")
GSSGATE_WELL_KNOWN_OID(iakerb, "1.3.6.1.5.2.5")
GSSGATE_WELL_KNOWN_OID(nt_hostbased_service, "1.2.840.113554.1.2.1.4")
GSSGATE_WELL_KNOWN_OID(nt_user_name, "1.2.840.113554.1.2.1.1")
GSSGATE_WELL_KNOWN_OID(nt_machine_uid_name, "1.2.840.113554.1.2.1.2")
GSSGATE_WELL_KNOWN_OID(nt_string_uid_name, "1.2.840.113554.1.2.1.3")
GSSGATE_WELL_KNOWN_OID(nt_krb5_principal_name, "1.2.840.113554.1.2.2.1")
GSSGATE_WELL_KNOWN_OID(nt_export_name, "1.3.6.1.5.6.4")
GSSGATE_WELL_KNOWN_OID(nt_composite_export, "1.3.6.1.5.6.6")
GSSGATE_WELL_KNOWN_OID(nt_anonymous, "1.3.6.1.5.6.3")
#undef GSSGATE_WELL_KNOWN_OID
}  // namespace oids

}  // namespace gssgate::gss
