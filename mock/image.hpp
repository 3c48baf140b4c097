// What an uploaded reference image is, from its first bytes: format and pixel size. Header parsing
// only (PNG IHDR, JPEG SOFn, WebP VP8/VP8L/VP8X); the mock never decodes pixels.
#pragma once

#include <string>
#include <string_view>

namespace vd::mock {

struct ImageInfo {
    std::string kind;  // "png", "jpeg", "webp"; "" when not one of those
    int width = 0, height = 0;
};

ImageInfo sniff_image(std::string_view bytes);

}  // namespace vd::mock
