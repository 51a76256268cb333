#pragma once

// The one JSON string escaper (the daemon's JSON log lines and the gssgate command's --json).

#include <string>
#include <string_view>

namespace gssgate::util {

// `s` as a JSON string literal: quotes and backslashes escaped, bytes below 0x20 as \u00XX, all
// other bytes as they are.
std::string json_quote(std::string_view s);

}  // namespace gssgate::util
