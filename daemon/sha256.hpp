// SHA-256 with OpenSSL.
#pragma once

#include <string>
#include <string_view>

#include <tl/expected.hpp>

namespace vd {

std::string sha256_hex(std::string_view data);
tl::expected<std::string, std::string> sha256_file(const std::string& path);

}  // namespace vd
