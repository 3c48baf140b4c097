#include "mock/image.hpp"

#include <cstdint>

namespace vd::mock {
namespace {

uint32_t be16(std::string_view b, size_t i) {
    return (uint32_t{static_cast<uint8_t>(b[i])} << 8) | static_cast<uint8_t>(b[i + 1]);
}
uint32_t be32(std::string_view b, size_t i) {
    return (be16(b, i) << 16) | be16(b, i + 2);
}
uint32_t le16(std::string_view b, size_t i) {
    return static_cast<uint8_t>(b[i]) | (uint32_t{static_cast<uint8_t>(b[i + 1])} << 8);
}
uint32_t le24(std::string_view b, size_t i) {
    return le16(b, i) | (uint32_t{static_cast<uint8_t>(b[i + 2])} << 16);
}
uint32_t le32(std::string_view b, size_t i) {
    return le16(b, i) | (le16(b, i + 2) << 16);
}

ImageInfo png(std::string_view b) {
    ImageInfo info{"png"};
    // Signature (8), IHDR length (4), "IHDR" (4), width (4), height (4).
    if (b.size() >= 24 && b.substr(12, 4) == "IHDR") {
        info.width = static_cast<int>(be32(b, 16));
        info.height = static_cast<int>(be32(b, 20));
    }
    return info;
}

ImageInfo jpeg(std::string_view b) {
    ImageInfo info{"jpeg"};
    size_t i = 2;
    while (i + 4 <= b.size()) {
        if (static_cast<uint8_t>(b[i]) != 0xFF) return info;
        uint8_t marker = static_cast<uint8_t>(b[i + 1]);
        if (marker == 0xFF) {  // fill byte
            ++i;
            continue;
        }
        if (marker == 0xD8 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) {
            i += 2;  // markers without a length
            continue;
        }
        uint32_t len = be16(b, i + 2);
        bool sof =
            marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
        if (sof) {
            if (i + 9 > b.size()) return info;
            info.height = static_cast<int>(be16(b, i + 5));
            info.width = static_cast<int>(be16(b, i + 7));
            return info;
        }
        if (marker == 0xD9 || marker == 0xDA) return info;  // end, or scan data without a frame
        i += 2 + len;
    }
    return info;
}

ImageInfo webp(std::string_view b) {
    ImageInfo info{"webp"};
    if (b.size() < 30) return info;
    auto chunk = b.substr(12, 4);
    if (chunk == "VP8 " && b.substr(23, 3) == "\x9d\x01\x2a") {
        info.width = static_cast<int>(le16(b, 26) & 0x3FFF);
        info.height = static_cast<int>(le16(b, 28) & 0x3FFF);
    } else if (chunk == "VP8L" && static_cast<uint8_t>(b[20]) == 0x2F) {
        uint32_t bits = le32(b, 21);
        info.width = static_cast<int>((bits & 0x3FFF) + 1);
        info.height = static_cast<int>(((bits >> 14) & 0x3FFF) + 1);
    } else if (chunk == "VP8X") {
        info.width = static_cast<int>(le24(b, 24) + 1);
        info.height = static_cast<int>(le24(b, 27) + 1);
    }
    return info;
}

}  // namespace

ImageInfo sniff_image(std::string_view b) {
    if (b.size() >= 8 && b.substr(0, 8) == "\x89PNG\r\n\x1a\n") return png(b);
    if (b.size() >= 3 && b.substr(0, 3) == "\xFF\xD8\xFF") return jpeg(b);
    if (b.size() >= 16 && b.substr(0, 4) == "RIFF" && b.substr(8, 4) == "WEBP") return webp(b);
    return {};
}

}  // namespace vd::mock
