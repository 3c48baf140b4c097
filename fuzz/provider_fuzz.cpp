// What a provider answers: video objects, list pages, error bodies, Retry-After values and
// dates. The first byte picks the status and which header carries the rest; nothing may crash.
#include <cstdint>
#include <string>

#include "pipeline/openai_videos/openai_videos.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 2) return 0;
    static const int statuses[] = {200, 201, 202, 400, 401, 404, 409, 429, 500, 503};
    vd::HttpResult r;
    r.status = statuses[data[0] % 10];
    const std::string rest(reinterpret_cast<const char*>(data + 2), size - 2);
    // The second byte splits the rest into a header value and the body.
    const size_t cut = rest.empty() ? 0 : data[1] % (rest.size() + 1);
    static const char* headers[] = {"retry-after", "retry-after-ms", "openai-poll-after-ms",
                                    "x-request-id"};
    r.headers.push_back({headers[(data[0] / 10) % 4], rest.substr(0, cut)});
    r.body = rest.substr(cut);
    r.content_type = "application/json";
    vd::Dialect dialect;
    dialect.running_words = {"processing"};
    dialect.completed_words = {"done"};
    (void)vd::openai_videos::parse_video(r, dialect);
    (void)vd::openai_videos::parse_list(r, dialect);
    (void)vd::openai_videos::parse_error(r);
    auto now = vd::from_ms(1'790'000'000'000);
    auto c = vd::openai_videos::classify(r, data[1] & 1, now);
    if (c.retry_after && c.retry_after->count() < 0) __builtin_trap();  // a wait is never negative
    return 0;
}
