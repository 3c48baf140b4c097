// Real media for the mock: an H.264+AAC MP4 of the requested size and duration showing a moving
// test pattern, and the preview images the content endpoint serves beside it.
#pragma once

#include <string>

#include <tl/expected.hpp>

#include "pipeline/types.hpp"

namespace vd::mock {

struct Media {
    std::string mp4;
    std::string thumbnail;       // WebP, or JPEG when libavcodec has no WebP encoder
    std::string thumbnail_type;  // "image/webp" or "image/jpeg"
    std::string spritesheet;     // JPEG grid of frames
};

inline constexpr int kFps = 8;  // low frame rate keeps renders cheap

// Renders the MP4 (faststart, x264 ultrafast, 8 fps, AAC tone) and its previews.
// Sizes must be even (4:2:0 video).
tl::expected<Media, std::string> render_media(Size size, int seconds);

// One frame of the pattern at time `t` as a still image. codec: "png", "mjpeg" or "libwebp".
tl::expected<std::string, std::string> render_still(const std::string& codec, Size size,
                                                    double t = 0);

// Flips bytes at a few places inside the payload of the file's mdat box (the coded frames),
// leaving every box header intact: the file opens, demuxes and has its full duration, and only a
// decoder sees the damage. Falls back to the middle of the data when there is no mdat.
void wreck_media_data(std::string& mp4);

}  // namespace vd::mock
