// Choosing a model's size from an aspect ratio ("16:9", "9:16", "1:1", "W:H").
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pipeline/types.hpp"

namespace vd {

struct Aspect {
    int width = 0;
    int height = 0;
};

std::optional<Aspect> parse_aspect(std::string_view text);

// The allowed size with the same orientation (landscape, portrait, square) whose ratio is
// closest to `a` (the first listed on a tie), or nullopt when no size has that orientation.
std::optional<Size> pick_size(Aspect a, const std::vector<std::string>& sizes);

// "landscape", "portrait" or "square".
std::string orientation_name(int width, int height);

}  // namespace vd
