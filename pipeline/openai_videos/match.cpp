// Reconciliation: whether a video in the provider's list is the one a job's lost create made.
#include "pipeline/openai_videos/openai_videos.hpp"
#include "pipeline/openai_videos/text.hpp"

namespace vd::openai_videos {

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

}  // namespace vd::openai_videos