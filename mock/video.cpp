#include "mock/video.hpp"

#include "mock/digest.hpp"
#include "pipeline/openai_videos/openai_videos.hpp"

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

namespace {

std::string signature(const std::string& id, int64_t expires_ms) {
    return sha256_hex("mock-link|" + id + "|" + std::to_string(expires_ms)).substr(0, 32);
}

std::string id_in_path(const Video& v, const Wire& wire) {
    return wire.dialect.base64_ids ? vd::openai_videos::encode_path_segment(v.id) : v.id;
}

// OpenRouter's shape: pending/in_progress/completed/failed, `polling_url`, and when done the
// signed links and the billed cost.
nlohmann::json openrouter_json(const Video& v, const VideoState& s, int64_t now_ms,
                               const Wire& wire) {
    static const char* words[] = {"pending", "in_progress", "completed", "failed"};
    nlohmann::json j = {
        {"id", v.id},
        {"polling_url", wire.origin + "/v1/videos/" + v.id},
        {"status", words[static_cast<int>(s.phase)]},
        {"model", v.model},
        {"created_at", v.created_ms / 1000},
    };
    if (s.phase == Phase::completed) {
        j["urls"] = {signed_link(wire, v.id, now_ms)};
        j["unsigned_urls"] = {wire.origin + "/v1/videos/" + v.id + "/content?index=0"};
        j["usage"] = {{"cost", v.usd}};
        j["generation_id"] = "gen-" + v.id.substr(v.id.size() > 12 ? v.id.size() - 12 : 0);
    }
    if (s.phase == Phase::failed)
        j["error"] =
            "Your request was blocked by moderation: the prompt may violate the usage "
            "policies.";
    return j;
}

}  // namespace

std::string signed_link(const Wire& wire, const std::string& id, int64_t now_ms) {
    int64_t expires = now_ms + wire.link_ttl_ms;
    return wire.origin + "/v1/files/" + vd::openai_videos::encode_path_segment(id) +
           ".mp4?expires=" + std::to_string(expires) + "&sig=" + signature(id, expires);
}

bool link_signature_ok(const std::string& id, int64_t expires_ms, const std::string& sig) {
    return sig == signature(id, expires_ms);
}

nlohmann::json to_json(const Video& v, int64_t now_ms, const Wire& wire) {
    auto s = state_at(v, now_ms);
    static const char* words[] = {"queued", "in_progress", "completed", "failed"};
    if (wire.dialect.openrouter) return openrouter_json(v, s, now_ms, wire);
    std::string status = words[static_cast<int>(s.phase)];
    if (wire.dialect.processing_url && s.phase == Phase::in_progress) status = "processing";
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
    if (wire.dialect.processing_url && s.phase == Phase::completed)
        j["url"] = wire.origin + "/v1/videos/" + id_in_path(v, wire) + "/content";
    if (wire.dialect.json_content) {
        j.erase("seconds");
        j["duration"] = v.seconds;
    }
    return j;
}

}  // namespace vd::mock
