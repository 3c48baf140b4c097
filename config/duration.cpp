// parse_duration (declared in config.hpp): "250ms", "10s", "1.5s", "30m", "1h".
#include <charconv>
#include <cmath>

#include "config/config.hpp"

namespace vd {

std::optional<Millis> parse_duration(std::string_view text) {
    size_t unit_at = 0;
    while (unit_at < text.size() &&
           ((text[unit_at] >= '0' && text[unit_at] <= '9') || text[unit_at] == '.'))
        ++unit_at;
    std::string_view number = text.substr(0, unit_at), unit = text.substr(unit_at);
    if (number.empty() || number.front() == '.' || number.back() == '.') return std::nullopt;
    double value = 0;
    auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
    if (ec != std::errc{} || end != number.data() + number.size()) return std::nullopt;

    double scale = 0;
    if (unit == "ms")
        scale = 1;
    else if (unit == "s")
        scale = 1000;
    else if (unit == "m")
        scale = 60 * 1000;
    else if (unit == "h")
        scale = 60 * 60 * 1000;
    else
        return std::nullopt;

    double ms = std::round(value * scale);
    // A year is far beyond any sensible timeout; refusing more keeps the arithmetic safe.
    if (!std::isfinite(ms) || ms > 366.0 * 24 * 3600 * 1000) return std::nullopt;
    return Millis{static_cast<int64_t>(ms)};
}

}  // namespace vd
