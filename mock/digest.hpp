// SHA-256 for the request log (uploads, and keys, which are only ever recorded as a hash), and
// base64 for ids that must look like a base64-id gateway's.
#pragma once

#include <string>
#include <string_view>

namespace vd::mock {

std::string sha256_hex(std::string_view data);
// First 12 hex digits of the key's hash; "" for no key.
std::string key_hash(std::string_view key);
// Standard base64 with padding.
std::string base64(std::string_view data);

}  // namespace vd::mock
