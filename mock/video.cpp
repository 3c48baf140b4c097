#include "mock/video.hpp"

namespace vd::mock {

VideoState state_at(const Video& v, int64_t now_ms) {
    VideoState s;
    int64_t t = now_ms - v.created_ms;
    int64_t done_at = v.queue_ms + (v.blocked ? v.gen_ms / 2 : v.gen_ms);
    if (t < v.queue_ms) return s;
    if (t < done_at) {
        s.phase = Phase::in_progress;
        s.progress = static_cast<int>(100 * (t - v.queue_ms) / v.gen_ms);
        return s;
    }
    if (v.blocked) {
        s.phase = Phase::failed;
        s.progress = v.gen_ms > 0 ? 50 : 0;
        return s;
    }
    s.phase = Phase::completed;
    s.progress = 100;
    s.completed_ms = v.created_ms + done_at;
    s.expires_ms = *s.completed_ms + v.expire_ms;
    s.expired = now_ms >= *s.expires_ms;
    return s;
}

nlohmann::json to_json(const Video& v, int64_t now_ms, const Wire& wire) {
    auto s = state_at(v, now_ms);
    static const char* words[] = {"queued", "in_progress", "completed", "failed"};
    std::string status = words[static_cast<int>(s.phase)];
    if (wire.processing_url && s.phase == Phase::in_progress) status = "processing";
    auto seconds_or_null = [](const std::optional<int64_t>& ms) {
        return ms ? nlohmann::json(*ms / 1000) : nlohmann::json(nullptr);
    };
    nlohmann::json j = {
        {"id", v.id},
        {"object", "video"},
        {"model", v.model},
        {"status", status},
        {"progress", s.progress},
        {"created_at", v.created_ms / 1000},
        {"completed_at", seconds_or_null(s.completed_ms)},
        {"expires_at", seconds_or_null(s.expires_ms)},
        {"prompt", v.prompt},
        {"size", to_string(v.size)},
        {"seconds", std::to_string(v.seconds)},
        {"remixed_from_video_id",
         v.remixed_from.empty() ? nlohmann::json(nullptr) : nlohmann::json(v.remixed_from)},
        {"error", nullptr},
    };
    if (s.phase == Phase::failed)
        j["error"] = {{"code", "moderation_blocked"},
                      {"message",
                       "Your request was blocked by our moderation system: the prompt may "
                       "violate the usage policies."}};
    if (wire.processing_url && s.phase == Phase::completed)
        j["url"] = wire.origin + "/v1/videos/" + v.id + "/content";
    return j;
}

}  // namespace vd::mock
