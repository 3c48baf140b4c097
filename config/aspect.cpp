#include "config/aspect.hpp"

#include <charconv>
#include <cmath>

namespace vd {
namespace {

int sign(int v) {
    return (v > 0) - (v < 0);
}

}  // namespace

std::optional<Aspect> parse_aspect(std::string_view text) {
    auto colon = text.find(':');
    if (colon == std::string_view::npos) return std::nullopt;
    Aspect a;
    auto w = text.substr(0, colon), h = text.substr(colon + 1);
    auto [pw, ew] = std::from_chars(w.data(), w.data() + w.size(), a.width);
    auto [ph, eh] = std::from_chars(h.data(), h.data() + h.size(), a.height);
    if (ew != std::errc{} || eh != std::errc{} || pw != w.data() + w.size() ||
        ph != h.data() + h.size() || a.width <= 0 || a.height <= 0 || a.width > 100000 ||
        a.height > 100000)
        return std::nullopt;
    return a;
}

std::optional<Size> pick_size(Aspect a, const std::vector<std::string>& sizes) {
    std::optional<Size> best;
    double best_distance = 0;
    const double wanted = std::log(static_cast<double>(a.width) / a.height);
    for (const auto& text : sizes) {
        auto s = parse_size(text);
        if (!s || sign(s->width - s->height) != sign(a.width - a.height)) continue;
        double distance = std::abs(std::log(static_cast<double>(s->width) / s->height) - wanted);
        if (!best || distance < best_distance - 1e-12) best = s, best_distance = distance;
    }
    return best;
}

std::string orientation_name(int width, int height) {
    return width > height ? "landscape" : width < height ? "portrait" : "square";
}

}  // namespace vd
