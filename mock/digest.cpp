#include "mock/digest.hpp"

#include <openssl/evp.h>

namespace vd::mock {

std::string sha256_hex(std::string_view data) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
    static const char* hex = "0123456789abcdef";
    std::string out;
    out.reserve(len * 2);
    for (unsigned int i = 0; i < len; ++i) {
        out += hex[md[i] >> 4];
        out += hex[md[i] & 15];
    }
    return out;
}

std::string key_hash(std::string_view key) {
    return key.empty() ? std::string() : sha256_hex(key).substr(0, 12);
}

}  // namespace vd::mock
