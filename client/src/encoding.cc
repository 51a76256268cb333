// set_encoding() and the conversions Name uses, on glibc's iconv.

#include "client/src/encoding.h"

#include <errno.h>
#include <iconv.h>

#include <algorithm>
#include <cctype>
#include <mutex>
#include <stdexcept>

#include "gssgate/types.h"

namespace gssgate {
namespace {

std::mutex& encoding_mutex() {
  static std::mutex mu;
  return mu;
}
std::string& encoding_name() {
  static std::string name = "utf-8";
  return name;
}

bool is_utf8(std::string_view encoding) {
  std::string lower(encoding);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return lower == "utf-8" || lower == "utf8";
}

// iconv's spelling of a python-style encoding name: glibc knows "LATIN1" and "latin1" but not
// python's "latin-1", so a name iconv rejects is retried without its dashes and underscores.
std::string iconv_name(const std::string& encoding) {
  iconv_t cd = iconv_open(encoding.c_str(), "UTF-8");
  if (cd != reinterpret_cast<iconv_t>(-1)) {
    iconv_close(cd);
    return encoding;
  }
  std::string squeezed;
  for (char c : encoding) {
    if (c != '-' && c != '_') squeezed.push_back(c);
  }
  cd = iconv_open(squeezed.c_str(), "UTF-8");
  if (cd == reinterpret_cast<iconv_t>(-1))
    throw std::invalid_argument("unknown encoding: " + encoding);
  iconv_close(cd);
  return squeezed;
}

// Converts `in` from `from` to `to`; std::invalid_argument when a character has no mapping.
std::string convert(std::string_view in, const std::string& to, const std::string& from) {
  iconv_t cd = iconv_open(to.c_str(), from.c_str());
  if (cd == reinterpret_cast<iconv_t>(-1)) {
    throw std::invalid_argument("unknown encoding: " + (is_utf8(to) ? from : to));
  }
  std::string out(in.size() * 4 + 16, '\0');
  char* src = const_cast<char*>(in.data());
  size_t src_left = in.size();
  char* dst = out.data();
  size_t dst_left = out.size();
  size_t rc = iconv(cd, &src, &src_left, &dst, &dst_left);
  int err = errno;
  iconv_close(cd);
  if (rc == static_cast<size_t>(-1)) {
    throw std::invalid_argument(
        std::string("cannot convert name text from ") + from + " to " + to +
        (err == EILSEQ ? ": a character has no mapping" : ": incomplete or invalid input"));
  }
  out.resize(out.size() - dst_left);
  return out;
}

}  // namespace

void set_encoding(std::string_view encoding) {
  std::string name(encoding);
  if (!is_utf8(name)) iconv_name(name);  // throws for an unknown encoding
  std::lock_guard<std::mutex> lock(encoding_mutex());
  encoding_name() = std::move(name);
}

std::string get_encoding() {
  std::lock_guard<std::mutex> lock(encoding_mutex());
  return encoding_name();
}

namespace internal {

std::string encode_text(std::string_view utf8) {
  std::string encoding = get_encoding();
  if (is_utf8(encoding)) return std::string(utf8);
  return convert(utf8, iconv_name(encoding), "UTF-8");
}

std::string decode_text(std::string_view bytes) {
  std::string encoding = get_encoding();
  if (is_utf8(encoding)) return std::string(bytes);
  return convert(bytes, "UTF-8", iconv_name(encoding));
}

}  // namespace internal
}  // namespace gssgate
