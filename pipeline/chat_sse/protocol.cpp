// The chat-completions streaming protocol behind the engine's seam (pipeline/protocol.hpp).
#include "pipeline/chat_sse/chat_sse.hpp"
#include "pipeline/openai_videos/openai_videos.hpp"

namespace vd::chat_sse {

namespace {

using nlohmann::json;
using protocol::ParseError;
using protocol::Video;
using protocol::VideoStatus;

constexpr size_t kMaxProgressLine = 64 * 1024;  // a progress chunk is a few hundred bytes
constexpr size_t kMaxRefusalText = 500;

std::string base(const ProviderSettings& p) {
    std::string b = p.base_url;
    while (!b.empty() && b.back() == '/')
        b.pop_back();
    return b;
}

HttpRequest request(const ProviderSettings& p, std::string method, std::string path, int slot) {
    HttpRequest r;
    r.method = std::move(method);
    r.url = base(p) + path;
    r.provider = p.name;
    r.key_slot = slot;
    r.side_effects = r.method != "GET";
    return r;
}

std::string image_type(const std::string& path) {
    auto dot = path.rfind('.');
    std::string ext = dot == std::string::npos ? "" : path.substr(dot);
    for (char& c : ext)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (ext == ".jpg" || ext == ".jpeg") return "image/jpeg";
    if (ext == ".webp") return "image/webp";
    return "image/png";
}

class ChatSse final : public protocol::Protocol {
  public:
    std::string_view name() const override { return "chat-sse"; }

    HttpRequest create(const ProviderSettings& p, const JobSpec& job, int slot) const override {
        HttpRequest r = request(p, "POST", "/chat/completions", slot);
        auto m = p.models.find(job.model);
        std::string model = m == p.models.end() ? job.model : wire_model(m->second, job);
        json message = {{"role", "user"}, {"content", job.prompt}};
        if (!job.image.empty()) {
            // Text and image as parts; the shell puts the fitted image in as a data: URL.
            message["content"] =
                json::array({{{"type", "text"}, {"text", job.prompt}},
                             {{"type", "image_url"}, {"image_url", {{"url", ""}}}}});
            r.embed.push_back(
                {"/messages/0/content/1/image_url/url", job.image, image_type(job.image)});
        }
        json body = {{"model", model}, {"messages", json::array({message})}, {"stream", true}};
        r.headers.emplace_back("Content-Type", "application/json");
        r.headers.emplace_back("Accept", "text/event-stream");
        r.body = body.dump();
        r.stream = true;
        r.timeout = p.stream_timeout;
        return r;
    }
    // No video can be read again by id, and there is no list: the engine asks neither (polls()
    // and lists() say so). These name the completions endpoint only to be well-formed.
    HttpRequest status(const ProviderSettings& p, const std::string&, int slot) const override {
        return request(p, "GET", "/models", slot);
    }
    bool lists(const ProviderSettings&) const override { return false; }
    HttpRequest list(const ProviderSettings& p, const std::string&, int slot) const override {
        return request(p, "GET", "/models", slot);
    }
    HttpRequest content(const ProviderSettings& p, const std::string&, const std::string&,
                        int slot) const override {
        return request(p, "GET", "/models", slot);
    }
    HttpRequest credentials(const ProviderSettings& p, int slot) const override {
        return request(p, "GET", "/models", slot);
    }
    std::optional<HttpRequest> availability(const ProviderSettings& p, const std::string& model,
                                            int slot) const override {
        // Not streamed: these servers answer whether the model can take a job, and make none.
        HttpRequest r = request(p, "POST", "/chat/completions", slot);
        json body = {{"model", model},
                     {"messages", json::array({{{"role", "user"}, {"content", "availability"}}})},
                     {"stream", false}};
        r.headers.emplace_back("Content-Type", "application/json");
        r.body = body.dump();
        return r;
    }

    protocol::Classified classify(const HttpResult& r, bool is_create,
                                  TimePoint now) const override {
        // Errors before the stream starts are OpenAI-shaped, with the same status codes.
        return openai_videos::classify(r, is_create, now);
    }

    tl::expected<Video, ParseError> video(const HttpResult& r, const Dialect&) const override {
        Answer a = read_answer(r.body);
        Video v;
        v.id = a.id;
        v.model = a.model;
        v.progress = a.progress;
        if (a.error) {
            v.status = VideoStatus::failed;
            v.status_word = "error";
            v.error = a.error;
            return v;
        }
        v.result_url = video_url_in(a.content);
        if (!v.result_url.empty()) {
            v.status = VideoStatus::completed;
            v.status_word = "completed";
            return v;
        }
        std::string words(trim_text(a.content));
        if (!a.done || words.empty())
            return tl::make_unexpected(ParseError{
                a.overlong ? "a line of the stream was over its bound"
                           : "the stream ended before it named a video" +
                                 std::string(words.empty() ? "" : " (it said: " + words + ")")});
        // The server finished without a video: a refusal, in its own words.
        if (words.size() > kMaxRefusalText) words = words.substr(0, kMaxRefusalText) + "...";
        v.status = VideoStatus::failed;
        v.status_word = "refused";
        v.error =
            protocol::ProviderError{"moderation_blocked", words, "refusal", "", json(nullptr)};
        return v;
    }
    tl::expected<protocol::VideoList, ParseError> videos(const HttpResult&,
                                                         const Dialect&) const override {
        return tl::make_unexpected(ParseError{"this protocol has no list"});
    }
    std::string content_link(const HttpResult&, const Dialect&) const override { return {}; }
    bool matches(const Video&, const JobSpec&, TimePoint, Millis) const override { return false; }
    std::optional<Millis> poll_after(const HttpResult&) const override { return std::nullopt; }

    bool polls() const override { return false; }
    std::optional<int> stream_progress(std::string& pending,
                                       std::string_view piece) const override {
        std::optional<int> found;
        read_lines(pending, piece, kMaxProgressLine, [&](std::string_view line) {
            if (line.substr(0, 5) != "data:") return;
            Answer a = read_answer(line);
            if (a.progress) found = a.progress;
        });
        return found;
    }

  private:
    static std::string_view trim_text(std::string_view s) {
        while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front())))
            s.remove_prefix(1);
        while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())))
            s.remove_suffix(1);
        return s;
    }
};

}  // namespace

std::string wire_model(const ModelSpec& model, const JobSpec& job) {
    std::string out =
        model.chat_model.empty() ? "sora-video-{orientation}-{seconds}s" : model.chat_model;
    auto fill = [&out](std::string_view key, const std::string& value) {
        for (auto at = out.find(key); at != std::string::npos;
             at = out.find(key, at + value.size()))
            out.replace(at, key.size(), value);
    };
    fill("{orientation}", job.size.height > job.size.width ? "portrait" : "landscape");
    fill("{seconds}", std::to_string(job.seconds));
    return out;
}

std::optional<std::string> template_error(std::string_view tmpl) {
    for (size_t at = tmpl.find('{'); at != std::string_view::npos; at = tmpl.find('{', at + 1)) {
        size_t end = tmpl.find('}', at);
        if (end == std::string_view::npos) return std::string(tmpl.substr(at));
        std::string_view key = tmpl.substr(at, end - at + 1);
        if (key != "{orientation}" && key != "{seconds}") return std::string(key);
    }
    return std::nullopt;
}

const protocol::Protocol& protocol() {
    static const ChatSse instance;
    return instance;
}

}  // namespace vd::chat_sse
