#include "lib/util/oid_codec.h"

#include <cstdint>
#include <limits>
#include <vector>

namespace gssgate::internal {
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

bool parse_arc(std::string_view text, uint64_t* out) {
  if (text.empty()) return false;
  uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    uint64_t digit = static_cast<uint64_t>(c - '0');
    if (v > (std::numeric_limits<uint64_t>::max() - digit) / 10) return false;
    v = v * 10 + digit;
  }
  *out = v;
  return true;
}

}  // namespace

std::optional<std::string> oid_der_from_dotted(std::string_view dotted) {
  std::vector<uint64_t> arcs;
  size_t start = 0;
  for (;;) {
    size_t dot = dotted.find('.', start);
    uint64_t arc = 0;
    if (!parse_arc(dotted.substr(start, dot == std::string_view::npos ? dot : dot - start), &arc)) {
      return std::nullopt;
    }
    arcs.push_back(arc);
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  if (arcs.size() < 2 || arcs[0] > 2 || (arcs[0] < 2 && arcs[1] >= 40) ||
      arcs[1] > std::numeric_limits<uint64_t>::max() - 80) {
    return std::nullopt;
  }
  std::string der;
  append_base128(arcs[0] * 40 + arcs[1], &der);
  for (size_t i = 2; i < arcs.size(); ++i) append_base128(arcs[i], &der);
  return der;
}

std::optional<std::string> oid_dotted_from_der(std::string_view der) {
  std::vector<uint64_t> subids;
  uint64_t value = 0;
  bool in_subid = false;
  for (unsigned char byte : der) {
    if (!in_subid && byte == 0x80) return std::nullopt;  // not minimal
    if (value > (std::numeric_limits<uint64_t>::max() >> 7)) return std::nullopt;
    value = (value << 7) | (byte & 0x7f);
    in_subid = (byte & 0x80) != 0;
    if (!in_subid) {
      subids.push_back(value);
      value = 0;
    }
  }
  if (in_subid || subids.empty()) return std::nullopt;
  uint64_t first = subids[0];
  uint64_t a = first < 40 ? 0 : (first < 80 ? 1 : 2);
  std::string out = std::to_string(a) + "." + std::to_string(first - a * 40);
  for (size_t i = 1; i < subids.size(); ++i) out += "." + std::to_string(subids[i]);
  return out;
}

}  // namespace gssgate::internal
