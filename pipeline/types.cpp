#include "pipeline/types.hpp"

#include <charconv>

namespace vd {

std::string iso8601_utc(TimePoint t) {
    using namespace std::chrono;
    // Floor to the day, so times before 1970 still get a time of day in range.
    auto day = floor<days>(t);
    year_month_day ymd{day};
    hh_mm_ss<Millis> tod{t - day};
    auto digits = [](long long v, int width) {
        std::string s = std::to_string(v < 0 ? -v : v);
        if (static_cast<int>(s.size()) < width) s.insert(0, width - s.size(), '0');
        return v < 0 ? "-" + s : s;
    };
    return digits(int(ymd.year()), 4) + "-" + digits(unsigned(ymd.month()), 2) + "-" +
           digits(unsigned(ymd.day()), 2) + "T" + digits(tod.hours().count(), 2) + ":" +
           digits(tod.minutes().count(), 2) + ":" + digits(tod.seconds().count(), 2) + "." +
           digits(tod.subseconds().count(), 3) + "Z";
}

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
