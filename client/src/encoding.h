#pragma once

// Conversions between the caller's UTF-8 text and GSSAPI's name bytes in the encoding chosen with
// set_encoding(); both are the identity for UTF-8. Throw std::invalid_argument on unmappable input.

#include <string>
#include <string_view>

namespace gssgate::internal {

std::string encode_text(std::string_view utf8);
std::string decode_text(std::string_view bytes);

}  // namespace gssgate::internal
