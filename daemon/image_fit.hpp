// Makes a reference image match the job's video size (`image_fit`), as a PNG.
#pragma once

#include <string>

#include <tl/expected.hpp>

#include "pipeline/types.hpp"

struct AVFrame;

namespace vd {

struct FitResult {
    Size original;         // the source image's size in pixels
    std::string fit_used;  // "cover", "contain" or "exact"
    bool resized = false;  // false when the source already had the target size
};

// Decodes `src` (PNG, JPEG or WebP, sniffed from its bytes) and writes `dest_png`, exactly `target`
// in size: "cover" scales to cover and centre-crops, "contain" scales to fit and pads with black,
// "exact" refuses an image of another size. Always re-encodes, so every upload is a plain PNG.
// A JPEG's EXIF orientation is applied first: sizes are as the image is shown.
// Writes `dest_png` in place; the caller makes it atomic. Errors name the file and what to do.
// Synchronous: a 12 MP photo takes ~0.3 s of CPU, so keep it off the loop thread. An image of
// more than `max_pixels` is refused from its header, before its pixels are decoded.
inline constexpr int64_t kMaxImagePixels = 40'000'000;  // a 40 MP RGBA picture is 160 MB
tl::expected<FitResult, std::string> fit_image(const std::string& src, Size target,
                                               const std::string& fit, const std::string& dest_png,
                                               int64_t max_pixels = kMaxImagePixels);

// A decoded picture (a video frame) written as `dest_png`, scaled to cover `target` and
// centre-cropped.
tl::expected<void, std::string> fit_frame(const AVFrame& frame, Size target,
                                          const std::string& dest_png);

// The size in pixels of a PNG, JPEG or WebP image as shown (decodes it).
tl::expected<Size, std::string> image_size(const std::string& path);

}  // namespace vd
