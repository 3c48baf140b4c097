#include "daemon/sha256.hpp"

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include <openssl/evp.h>

namespace vd {
namespace {

using MdCtx = std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)>;

MdCtx new_sha256() {
    MdCtx ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
    if (ctx && EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) ctx.reset();
    return ctx;
}

std::string finish_hex(EVP_MD_CTX* ctx) {
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned int len = 0;
    if (EVP_DigestFinal_ex(ctx, digest.data(), &len) != 1) return {};
    static constexpr char kHex[] = "0123456789abcdef";
    std::string hex(size_t{len} * 2, '0');
    for (unsigned int i = 0; i < len; ++i) {
        hex[2 * i] = kHex[digest[i] >> 4];
        hex[2 * i + 1] = kHex[digest[i] & 0xf];
    }
    return hex;
}

}  // namespace

std::string sha256_hex(std::string_view data) {
    MdCtx ctx = new_sha256();
    // Only allocation failure gets here; an empty string never matches a real digest.
    if (!ctx || EVP_DigestUpdate(ctx.get(), data.data(), data.size()) != 1) return {};
    return finish_hex(ctx.get());
}

tl::expected<std::string, std::string> sha256_file(const std::string& path) {
    std::unique_ptr<FILE, decltype(&std::fclose)> file(std::fopen(path.c_str(), "rb"),
                                                       &std::fclose);
    if (!file) return tl::unexpected(path + ": cannot open for hashing: " + std::strerror(errno));
    MdCtx ctx = new_sha256();
    if (!ctx) return tl::unexpected(std::string("sha256: OpenSSL could not set up the digest"));
    // Videos run to hundreds of MB: stream them through a fixed buffer.
    std::array<char, 1 << 16> chunk;
    size_t got = 0;
    while ((got = std::fread(chunk.data(), 1, chunk.size(), file.get())) > 0) {
        if (EVP_DigestUpdate(ctx.get(), chunk.data(), got) != 1)
            return tl::unexpected(std::string("sha256: OpenSSL digest update failed"));
    }
    if (std::ferror(file.get())) return tl::unexpected(path + ": read error while hashing");
    std::string hex = finish_hex(ctx.get());
    if (hex.empty()) return tl::unexpected(std::string("sha256: OpenSSL digest failed"));
    return hex;
}

}  // namespace vd
