// Status words: the built-in table of what gateways call queued, running, done and failed, plus
// the dialect's own words.
#include "pipeline/openai_videos/openai_videos.hpp"
#include "pipeline/openai_videos/text.hpp"

#include <array>

namespace vd::openai_videos {

using namespace text;

VideoStatus classify_status(std::string_view word, const Dialect& dialect) {
    std::string w = to_lower(trim(word));
    auto in = [&](const std::vector<std::string>& words) {
        for (const auto& x : words)
            if (to_lower(trim(x)) == w) return true;
        return false;
    };
    // The dialect's words first: a provider may use a built-in word differently.
    if (in(dialect.queued_words)) return VideoStatus::queued;
    if (in(dialect.running_words)) return VideoStatus::in_progress;
    if (in(dialect.completed_words)) return VideoStatus::completed;
    if (in(dialect.failed_words)) return VideoStatus::failed;

    struct Entry {
        std::string_view word;
        VideoStatus status;
    };
    static constexpr std::array<Entry, 23> kTable{{
        {"queued", VideoStatus::queued},
        {"pending", VideoStatus::queued},
        {"submitted", VideoStatus::queued},
        {"not_start", VideoStatus::queued},
        {"preparing", VideoStatus::queued},
        {"created", VideoStatus::queued},
        {"starting", VideoStatus::queued},
        {"in_progress", VideoStatus::in_progress},
        {"processing", VideoStatus::in_progress},
        {"running", VideoStatus::in_progress},
        {"generating", VideoStatus::in_progress},
        {"completed", VideoStatus::completed},
        {"complete", VideoStatus::completed},
        {"success", VideoStatus::completed},
        {"succeeded", VideoStatus::completed},
        {"finished", VideoStatus::completed},
        {"failed", VideoStatus::failed},
        {"failure", VideoStatus::failed},
        {"fail", VideoStatus::failed},
        {"error", VideoStatus::failed},
        {"expired", VideoStatus::failed},
        {"cancelled", VideoStatus::cancelled},
        {"canceled", VideoStatus::cancelled},
    }};
    for (const auto& e : kTable)
        if (e.word == w) return e.status;
    return VideoStatus::unknown;
}

}  // namespace vd::openai_videos
