// POST /v1/chat/completions: the chat-completions streaming protocol of sora2api-style servers
// (shared/spec/providers.md section 3), served beside the videos endpoints in every dialect.
//
// The model name carries the job: "...landscape|portrait...-Ns" (sora-video-landscape-4s), the
// size being the first of the configured models' sizes with that orientation. Not streamed, it
// answers an availability check and makes nothing. Streamed, it makes a video and sends four
// progress chunks over gen_time (with keep-alive comments between), then the final content with
// a signed link in an HTML fragment, then [DONE]. A moderated prompt ends with a refusal in
// words and no link; a lost create (lost_rate) makes the video, then closes the connection
// after the second progress chunk.
#include <regex>

#include "mock/digest.hpp"
#include "mock/server_impl.hpp"

namespace vd::mock {
namespace {

using nlohmann::json;

std::string event(const json& chunk) {
    return "data: " + chunk.dump() + "\n\n";
}

json chunk(const std::string& id, const std::string& model, const json& delta,
           const json& finish = nullptr) {
    return {
        {"id", id},
        {"object", "chat.completion.chunk"},
        {"created", 1764700000},
        {"model", model},
        {"choices", json::array({{{"index", 0}, {"delta", delta}, {"finish_reason", finish}}})}};
}

// The user's words and image out of the last message: a string, or text and image_url parts.
void read_message(const json& messages, std::string& prompt, std::optional<Upload>& image) {
    if (!messages.is_array() || messages.empty() || !messages.back().is_object()) return;
    const json& content = messages.back().value("content", json());
    if (content.is_string()) {
        prompt = content.get<std::string>();
        return;
    }
    if (!content.is_array()) return;
    for (const auto& part : content) {
        if (!part.is_object()) continue;
        if (part.value("type", "") == "text" && part.contains("text") && part["text"].is_string())
            prompt += part["text"].get<std::string>();
        if (part.value("type", "") == "image_url" && part.contains("image_url") &&
            part["image_url"].is_object())
            image = upload_from_data_url(part["image_url"].value("url", json()));
    }
}

bool contains_word(const std::string& text, const std::string& word) {
    if (word.empty()) return false;
    auto lower = [](std::string s) {
        for (char& ch : s)
            ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        return s;
    };
    return lower(text).find(lower(word)) != std::string::npos;
}

}  // namespace

void Server::Impl::chat(Call& c) {
    const Options& o = *c.options;
    const json& f = c.body.fields;
    if (c.body.error) return send_error(c.res, *c.body.error);
    std::string model =
        f.contains("model") && f["model"].is_string() ? f["model"].get<std::string>() : "";
    std::smatch m;
    static const std::regex kModel("(landscape|portrait)-([0-9]+)s$");
    if (!std::regex_search(model, m, kModel))
        return send_error(c.res, {400, "invalid_request_error", "model_not_found", "model",
                                  "Invalid model '" + model +
                                      "': use sora-video-landscape-Ns or sora-video-portrait-Ns."});
    const bool portrait = m[1] == "portrait";
    const int seconds = std::stoi(m[2]);
    std::optional<Size> size;
    bool length_ok = false;
    for (const auto& [name, spec] : o.models) {
        if (std::find(spec.seconds.begin(), spec.seconds.end(), seconds) != spec.seconds.end())
            length_ok = true;
        for (const auto& s : spec.sizes)
            if (auto p = parse_size(s); p && !size && (p->height > p->width) == portrait) size = p;
    }
    if (!length_ok || !size)
        return send_error(c.res, {400, "invalid_request_error", "model_not_found", "model",
                                  "Model '" + model + "' is not offered."});
    std::string prompt;
    std::optional<Upload> image;
    read_message(f.value("messages", json()), prompt, image);
    if (image) {
        c.body.files["image_url"] = *image;
        record_files(c);
    }
    const std::string id = "chatcmpl-" + ids.hex(24);
    if (!f.value("stream", false)) {
        // An availability check: nothing is made.
        return send_json(
            c.res, 200,
            {{"id", id},
             {"object", "chat.completion"},
             {"model", model},
             {"choices", json::array({{{"index", 0},
                                       {"message",
                                        {{"role", "assistant"},
                                         {"content", "Model " + model + " is available."}}},
                                       {"finish_reason", "stop"}}})}});
    }
    if (prompt.empty())
        return send_error(c.res, {400, "invalid_request_error", "invalid_value", "messages",
                                  "The last message has no text."});
    int64_t wait = limiter.acquire(c.rec.key_hash, o.rpm, c.now_ms, o.rate_window.count());
    if (wait > 0) {
        c.rec.retry_after_ms = wait;
        c.rec.fault = "rate_limited";
        c.res.set_header("retry-after", std::to_string((wait + 999) / 1000));
        return send_error(c.res, {429, "requests", "rate_limit_exceeded", "",
                                  "Too many concurrent generations; try again later."});
    }
    Video v;
    v.id = "video_" + ids.hex(32);
    v.model = model;
    v.prompt = prompt;
    v.size = *size;
    v.seconds = seconds;
    v.created_ms = c.now_ms;
    v.queue_ms = 0;
    v.gen_ms = o.gen_time.count();
    v.expire_ms = o.expire_after.count();
    v.blocked = contains_word(prompt, o.moderation_word);
    if (auto spec = o.models.begin(); spec != o.models.end())
        v.usd = spec->second.usd_per_second * seconds;
    c.rec.video_id = v.id;
    const bool lost = faults.roll(o.lost_rate);
    if (lost) {
        c.rec.fault = "lost";
        c.rec.lost = true;
    }
    const Wire w = wire(c);
    const Millis step{std::max<int64_t>(1, o.gen_time.count() / 4)};
    const bool blocked = v.blocked;
    const std::string video_id = v.id;
    store.add(std::move(v));
    c.res.status = 200;
    c.res.set_chunked_content_provider("text/event-stream", [this, id, model, w, step, lost,
                                                             blocked, video_id](
                                                                size_t, httplib::DataSink& sink) {
        sink.write(": connected\n\n", 13);
        std::string first = event(chunk(id, model, {{"role", "assistant"}}));
        sink.write(first.data(), first.size());
        for (int i = 1; i <= 4; ++i) {
            pause(step);
            std::string text = event(chunk(
                id, model,
                {{"reasoning_content", "Generating video... " + std::to_string(i * 25) + "%\n"}}));
            text += ": keep-alive\n\n";
            sink.write(text.data(), text.size());
            if (lost && i == 2) {
                // The video goes on being made (and billed); the client hears no more.
                HttpServer::drop_current(Drop::close);
                return false;
            }
        }
        std::string content =
            blocked ? "This content may violate our content policies. Please revise the "
                      "prompt and try again."
                    : "```html\n<video src='" + signed_link(w, video_id, wall_ms()) +
                          "' controls></video>\n```";
        std::string tail = event(chunk(id, model, {{"content", content}})) +
                           event(chunk(id, model, json::object(), "stop")) + "data: [DONE]\n\n";
        sink.write(tail.data(), tail.size());
        sink.done();
        return true;
    });
}

}  // namespace vd::mock
