#include "pipeline/types.hpp"

#include <charconv>

namespace vd {

std::string to_string(Size s) {
    return std::to_string(s.width) + "x" + std::to_string(s.height);
}

std::optional<Size> parse_size(std::string_view text) {
    auto x = text.find('x');
    if (x == std::string_view::npos || x == 0 || x + 1 >= text.size()) return std::nullopt;
    Size s;
    auto w = text.substr(0, x), h = text.substr(x + 1);
    auto [pw, ew] = std::from_chars(w.data(), w.data() + w.size(), s.width);
    auto [ph, eh] = std::from_chars(h.data(), h.data() + h.size(), s.height);
    if (ew != std::errc{} || eh != std::errc{} || pw != w.data() + w.size() ||
        ph != h.data() + h.size() || s.width <= 0 || s.height <= 0 || s.width > 16384 ||
        s.height > 16384)
        return std::nullopt;
    return s;
}

}  // namespace vd
