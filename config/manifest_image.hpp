// The reference image of a manifest: where it may be, what it must be.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <tl/expected.hpp>

namespace vd {

struct ImageProblem {
    std::string code;  // bad_image_path, image_missing, image_not_supported, image_too_large
    std::string message;
};

// Checks `name` (relative to `dir`, as written in the manifest) and returns the resolved path.
// It must stay inside `dir` even through symlinks, be a regular file of at most `max_bytes`
// and sniff as PNG, JPEG or WebP.
tl::expected<std::string, ImageProblem> check_image(const std::string& dir, const std::string& name,
                                                    int64_t max_bytes);

// Whether `path`, with every symlink resolved, lies inside `dir` (also resolved).
bool stays_inside(const std::string& dir, const std::string& path);

// The files STEM.png, .jpg, .jpeg, .webp that are present in `dir` (the image of a .txt manifest).
std::vector<std::string> companion_images(const std::string& dir, const std::string& stem);

}  // namespace vd
