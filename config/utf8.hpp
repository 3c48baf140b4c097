// UTF-8 checks for prompts and manifests: small enough to own, strict enough for an API.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace vd {

// Offset of the first byte that is not part of well-formed UTF-8 (no overlongs, no surrogates,
// nothing above U+10FFFF), or nullopt when the whole text is valid.
std::optional<size_t> find_invalid_utf8(std::string_view text);

// Offset of the first control character other than line feed, carriage return and tab (C0 and
// DEL), or nullopt when there is none.
std::optional<size_t> find_control_char(std::string_view text);

// Number of code points of valid UTF-8 text (what the API counts as characters).
size_t count_code_points(std::string_view text);

}  // namespace vd
