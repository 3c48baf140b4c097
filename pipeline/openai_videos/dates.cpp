// Waits a provider asks for: retry-after-ms, Retry-After in seconds or as an HTTP date.
#include "pipeline/openai_videos/openai_videos.hpp"
#include "pipeline/openai_videos/text.hpp"

#include <charconv>
#include <cmath>

namespace vd::openai_videos {

using namespace text;

namespace {

std::optional<double> parse_decimal(std::string_view s) {
    s = trim(s);
    double d = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
    if (s.empty() || ec != std::errc{} || p != s.data() + s.size() || !std::isfinite(d) || d < 0)
        return std::nullopt;
    return d;
}

bool is_leap(int year) {
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

int days_in_month(int year, int month) {
    static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return kDays[month - 1] + (month == 2 && is_leap(year) ? 1 : 0);
}

// Days from 1970-01-01 to a date on or after it (month 1-12). Years have four digits in an
// HTTP date, so counting year by year is cheap.
int64_t days_since_epoch(int year, int month, int day) {
    int64_t days = 0;
    for (int y = 1970; y < year; ++y)
        days += is_leap(y) ? 366 : 365;
    for (int m = 1; m < month; ++m)
        days += days_in_month(year, m);
    return days + day - 1;
}

std::optional<int> digits(std::string_view s) {
    if (s.empty()) return std::nullopt;
    int v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return std::nullopt;
        v = v * 10 + (c - '0');
    }
    return v;
}

}  // namespace

std::optional<Millis> parse_http_date(std::string_view text, TimePoint now) {
    // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
    std::string_view s = trim(text);
    if (s.size() != 29 || s[3] != ',' || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' ||
        s[16] != ' ' || s[19] != ':' || s[22] != ':' || s[25] != ' ' || s.substr(26) != "GMT")
        return std::nullopt;
    static constexpr std::string_view kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    int month = 0;
    for (int i = 0; i < 12; ++i)
        if (s.substr(8, 3) == kMonths[i]) month = i + 1;
    auto day = digits(s.substr(5, 2)), year = digits(s.substr(12, 4));
    auto hh = digits(s.substr(17, 2)), mm = digits(s.substr(20, 2)), ss = digits(s.substr(23, 2));
    if (!month || !day || !year || !hh || !mm || !ss || *day < 1 ||
        *day > days_in_month(*year, month) || *hh > 23 || *mm > 59 || *ss > 60)
        return std::nullopt;
    if (*year < 1970) return Millis{0};  // long past
    int64_t secs = days_since_epoch(*year, month, *day) * 86400 + *hh * 3600 + *mm * 60 + *ss;
    int64_t delay = secs * 1000 - to_ms(now);
    return Millis{delay > 0 ? delay : 0};
}

std::optional<Millis> retry_after(const HttpResult& r, TimePoint now) {
    if (auto ms = r.header("retry-after-ms"))
        if (auto d = parse_decimal(*ms); d && *d < 1e12)
            return Millis{static_cast<int64_t>(std::llround(*d))};
    if (auto ra = r.header("retry-after")) {
        if (auto d = parse_decimal(*ra); d && *d < 1e9)
            return Millis{static_cast<int64_t>(std::llround(*d * 1000))};
        return parse_http_date(*ra, now);
    }
    return std::nullopt;
}

}  // namespace vd::openai_videos
