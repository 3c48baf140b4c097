// The reference protocol behind the engine's seam (pipeline/protocol.hpp).
#include <charconv>

#include "pipeline/openai_videos/openai_videos.hpp"

namespace vd::openai_videos {

namespace {

constexpr int kListPage = 50;

class OpenAiVideos final : public protocol::Protocol {
  public:
    std::string_view name() const override { return "openai-videos"; }

    HttpRequest create(const ProviderSettings& p, const JobSpec& job, int slot) const override {
        return job.remix_of.empty() ? build_create(p, job, slot) : build_remix(p, job, slot);
    }
    HttpRequest status(const ProviderSettings& p, const std::string& video_id,
                       int slot) const override {
        return build_retrieve(p, video_id, slot);
    }
    bool lists(const ProviderSettings& p) const override { return !p.dialect.paths.list.empty(); }
    HttpRequest list(const ProviderSettings& p, const std::string& after, int slot) const override {
        return build_list(p, kListPage, after, slot);
    }
    HttpRequest content(const ProviderSettings& p, const std::string& video_id,
                        const std::string& variant, int slot) const override {
        return build_content(p, video_id, variant, slot);
    }
    HttpRequest credentials(const ProviderSettings& p, int slot) const override {
        return build_models(p, slot);
    }

    Classified classify(const HttpResult& r, bool is_create, TimePoint now) const override {
        return openai_videos::classify(r, is_create, now);
    }
    tl::expected<Video, ParseError> video(const HttpResult& r, const Dialect& d) const override {
        return parse_video(r, d);
    }
    tl::expected<VideoList, ParseError> videos(const HttpResult& r,
                                               const Dialect& d) const override {
        return parse_list(r, d);
    }
    std::string content_link(const HttpResult& r, const Dialect& d) const override {
        return parse_content_link(r, d);
    }
    bool matches(const Video& v, const JobSpec& job, TimePoint sent_at,
                 Millis window) const override {
        return matches_job(v, job, sent_at, window);
    }
    std::optional<Millis> poll_after(const HttpResult& r) const override {
        auto h = r.header("openai-poll-after-ms");
        if (!h) return std::nullopt;
        int64_t ms = 0;
        auto [end, ec] = std::from_chars(h->data(), h->data() + h->size(), ms);
        if (ec != std::errc{} || end != h->data() + h->size() || ms < 0) return std::nullopt;
        return Millis{ms};
    }
};

}  // namespace

const protocol::Protocol& protocol() {
    static const OpenAiVideos instance;
    return instance;
}

}  // namespace vd::openai_videos
