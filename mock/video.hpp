// A video job of the mock and its clock: the status is a function of wall time since creation.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "mock/dialect.hpp"
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
    double usd = 0;        // what the generation bills (the model's price x seconds)
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

// How the object is written: in the dialect (mock/dialect.hpp), with links on this origin.
struct Wire {
    Dialect dialect;
    std::string origin;       // "http://host:port", for links
    int64_t link_ttl_ms = 0;  // a signed link's lifetime from the read that gave it
};

nlohmann::json to_json(const Video& v, int64_t now_ms, const Wire& wire);

// A storage link to the video's MP4 that needs no key and expires: signed anew on each read.
std::string signed_link(const Wire& wire, const std::string& id, int64_t now_ms);
// Whether `sig` is the signature of a link to `id` that expires at `expires_ms`.
bool link_signature_ok(const std::string& id, int64_t expires_ms, const std::string& sig);

}  // namespace vd::mock
