// A video job of the mock and its clock: the status is a function of wall time since creation.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "pipeline/types.hpp"

namespace vd::mock {

struct Video {
    std::string id;
    std::string model;
    std::string prompt;
    Size size;
    int seconds = 0;
    std::string remixed_from;  // "" = none
    int64_t created_ms = 0;
    // Timings as they were when the video was created, so later update()s don't rewrite history.
    int64_t queue_ms = 0, gen_ms = 0, expire_ms = 0;
    bool blocked = false;  // the prompt trips moderation: the job fails halfway
    bool deleted = false;
};

enum class Phase { queued, in_progress, completed, failed };

struct VideoState {
    Phase phase = Phase::queued;
    int progress = 0;
    std::optional<int64_t> completed_ms, expires_ms;
    bool expired = false;  // completed, and the content is gone
};

VideoState state_at(const Video& v, int64_t now_ms);

// How the object is written: the reference, or the "processing-url" dialect (status word
// `processing`, and a `url` to the content once completed).
struct Wire {
    bool processing_url = false;
    std::string origin;  // "http://host:port", for `url`
};

nlohmann::json to_json(const Video& v, int64_t now_ms, const Wire& wire);

}  // namespace vd::mock
