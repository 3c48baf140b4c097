// Errors and retries: how an answer is classified (retryable, terminal, ambiguous, fatal to the
// provider), Retry-After and HTTP dates, and whether a listed video is the one a job created.
#include "pipeline/protocol.hpp"
#include "pipeline/protocol_text.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <initializer_list>
#include <string_view>
#include <variant>

namespace vd::protocol {

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
}  // namespace

Classified classify(const HttpResult& r, bool is_create, TimePoint now) {
    Classified c;
    bool no_response = r.transport == TransportError::after_send ||
                       (r.transport == TransportError::none && r.status <= 0);
    if (r.transport == TransportError::not_sent) {
        c.cls = ErrorClass::retryable;
        c.code = "transport_not_sent";
        return c;
    }
    if (no_response) {
        c.cls = is_create ? ErrorClass::ambiguous : ErrorClass::retryable;
        c.code = "transport_after_send";
        return c;
    }
    if (r.status >= 200 && r.status < 300) return c;

    c.error = parse_error(r);
    c.retry_after = retry_after(r, now);
    c.code = c.error && !c.error->code.empty() ? c.error->code : "http_" + std::to_string(r.status);
    const std::string code = c.error ? to_lower(c.error->code) : "";
    const bool server_error = r.status >= 500;

    // Credentials and money are about the provider, not this request: no header changes that.
    if (r.status == 401 || r.status == 403 || code == "insufficient_quota" ||
        code == "billing_hard_limit_reached" || code == "invalid_api_key") {
        c.cls = ErrorClass::provider_fatal;
        return c;
    }
    auto should_retry = r.header("x-should-retry");
    std::string hint = should_retry ? to_lower(trim(*should_retry)) : "";
    if (hint == "false") {
        c.cls = ErrorClass::terminal;
    } else if (hint == "true" || r.status == 408 || r.status == 409 || r.status == 429 ||
               server_error || code == "rate_limit_exceeded") {
        // A create that reached a failing server may still have made a video.
        c.cls = is_create && server_error ? ErrorClass::ambiguous : ErrorClass::retryable;
    } else {
        c.cls = ErrorClass::terminal;
    }
    return c;
}

// ---- reconciliation ----

namespace {
// "1280x720", "1280X720", "1280*720", " 1280 x 720 " all name the same size.
std::optional<Size> normalized_size(std::string_view text) {
    std::string s;
    for (char c : text) {
        if (c == ' ') continue;
        s += (c == 'X' || c == '*') ? 'x' : c;
    }
    return parse_size(s);
}
}  // namespace

bool matches_job(const Video& v, const JobSpec& job, TimePoint sent_at, Millis window) {
    if (!v.prompt.empty() && v.prompt != job.prompt) return false;
    if (!v.model.empty() && v.model != job.model) return false;
    if (!v.size.empty()) {
        auto s = normalized_size(v.size);
        if (!s || *s != job.size) return false;
    }
    if (v.seconds && *v.seconds != job.seconds) return false;
    if (!v.remixed_from.empty() && v.remixed_from != job.remix_of) return false;
    // Without a creation time nothing ties the video to this submit.
    if (!v.created_at) return false;
    // created_at has whole seconds and clocks differ: allow a minute before the send.
    int64_t created_ms = *v.created_at * 1000;
    return created_ms >= to_ms(sent_at) - 60'000 && created_ms <= to_ms(sent_at) + window.count();
}

}  // namespace vd::protocol