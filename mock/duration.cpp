#include "mock/duration.hpp"

#include <charconv>

namespace vd::mock {

std::optional<Millis> parse_duration(std::string_view text) {
    if (text == "0") return Millis{0};
    double value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end == text.data() || value < 0) return std::nullopt;
    std::string_view unit(end, static_cast<size_t>(text.data() + text.size() - end));
    double ms;
    if (unit == "ms")
        ms = value;
    else if (unit == "s")
        ms = value * 1000;
    else if (unit == "m")
        ms = value * 60'000;
    else if (unit == "h")
        ms = value * 3'600'000;
    else
        return std::nullopt;
    if (ms > 1e12) return std::nullopt;
    return Millis{static_cast<int64_t>(ms + 0.5)};
}

}  // namespace vd::mock
