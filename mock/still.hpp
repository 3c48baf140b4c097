// Still images of the test pattern: reference images for tests, thumbnails and spritesheets.
#pragma once

#include <string>

#include <tl/expected.hpp>

#include "pipeline/types.hpp"

namespace vd::mock {

struct Still {
    std::string bytes;
    std::string content_type;
};

// The frame at time t as WebP when libavcodec can write WebP, else as JPEG.
tl::expected<Still, std::string> render_thumbnail(Size size, double t);
// A 5x2 grid of small frames spread over the clip, as JPEG.
tl::expected<Still, std::string> render_spritesheet(Size size, int seconds);

}  // namespace vd::mock
