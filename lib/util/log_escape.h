#pragma once

// The one escaping routine for values in gssgated's log lines.

#include <string>
#include <string_view>

namespace gssgate::util {

// Every caller-influenced value in a log line (names, principals, store keys and values, denial
// reasons, GSSAPI texts, cgroup paths), for every log format: `s` in double quotes, with `"` as
// \", and a backslash, every byte below 0x20, DEL and every byte that is not part of well-formed
// UTF-8 as \xHH. So a value can neither end its field (a quote), start a new line or a forged
// "<N>audit ..." line (a newline), nor make a JSON line invalid (bad UTF-8); and a backslash in
// the output always starts an escape, so the escaped form maps back to one value.
std::string log_value(std::string_view s);

}  // namespace gssgate::util
