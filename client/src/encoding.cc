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

bool is_utf8(std::string_view encoding) {
  std::string lower(encoding);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return lower == "utf-8" || lower == "utf8";
}

const iconv_t kNoConverter = reinterpret_cast<iconv_t>(-1);

// Opens a UTF-8 -> `encoding` converter and says the name iconv took: a python-style name it
// rejects ("latin-1": glibc knows "LATIN1" and "latin1") is retried without dashes and
// underscores.
iconv_t open_converter(const std::string& encoding, std::string* resolved) {
  std::string squeezed;
  for (char c : encoding) {
    if (c != '-' && c != '_') squeezed.push_back(c);
  }
  for (const std::string& name : {encoding, squeezed}) {
    iconv_t cd = iconv_open(name.c_str(), "UTF-8");
    if (cd != kNoConverter) {
      *resolved = name;
      return cd;
    }
  }
  throw std::invalid_argument("unknown encoding: " + encoding);
}

// The encoding set_encoding() chose and its two converters, opened once per set_encoding() rather
// than per conversion. iconv descriptors keep shift state, so a conversion holds the lock.
struct Encoding {
  std::mutex mu;
  std::string name = "utf-8";
  iconv_t to_encoding = kNoConverter;  // UTF-8 -> name; kNoConverter for UTF-8
  iconv_t to_utf8 = kNoConverter;      // name -> UTF-8

  void set(const std::string& new_name) {
    iconv_t to = kNoConverter, from = kNoConverter;
    if (!is_utf8(new_name)) {
      std::string resolved;
      to = open_converter(new_name, &resolved);  // throws for an unknown encoding
      from = iconv_open("UTF-8", resolved.c_str());
      if (from == kNoConverter) {
        iconv_close(to);
        throw std::invalid_argument("unknown encoding: " + new_name);
      }
    }
    std::lock_guard<std::mutex> lock(mu);
    if (to_encoding != kNoConverter) iconv_close(to_encoding);
    if (to_utf8 != kNoConverter) iconv_close(to_utf8);
    name = new_name;
    to_encoding = to;
    to_utf8 = from;
  }

  // `in` through one of the converters; the identity while the encoding is UTF-8.
  std::string convert(std::string_view in, bool into_encoding) {
    std::lock_guard<std::mutex> lock(mu);
    iconv_t cd = into_encoding ? to_encoding : to_utf8;
    if (cd == kNoConverter) return std::string(in);
    iconv(cd, nullptr, nullptr, nullptr, nullptr);  // a fresh shift state
    std::string out(in.size() * 4 + 16, '\0');
    char* src = const_cast<char*>(in.data());
    size_t src_left = in.size();
    char* dst = out.data();
    size_t dst_left = out.size();
    size_t rc = iconv(cd, &src, &src_left, &dst, &dst_left);
    if (rc != static_cast<size_t>(-1)) rc = iconv(cd, nullptr, nullptr, &dst, &dst_left);
    if (rc == static_cast<size_t>(-1)) {
      const int err = errno;
      throw std::invalid_argument(
          std::string("cannot convert name text from ") + (into_encoding ? "UTF-8" : name) +
          " to " + (into_encoding ? name : "UTF-8") +
          (err == EILSEQ ? ": a character has no mapping" : ": incomplete or invalid input"));
    }
    out.resize(out.size() - dst_left);
    return out;
  }
};

Encoding& encoding() {
  static Encoding* e = new Encoding;  // never destroyed: conversions may run during exit
  return *e;
}

}  // namespace

void set_encoding(std::string_view name) { encoding().set(std::string(name)); }

std::string get_encoding() {
  Encoding& e = encoding();
  std::lock_guard<std::mutex> lock(e.mu);
  return e.name;
}

namespace internal {

std::string encode_text(std::string_view utf8) { return encoding().convert(utf8, true); }

std::string decode_text(std::string_view bytes) { return encoding().convert(bytes, false); }

}  // namespace internal
}  // namespace gssgate
