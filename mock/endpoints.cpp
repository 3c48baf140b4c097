// The protocol's endpoints. Every one runs after Server::Impl::serve has done the common part.
#include <algorithm>
#include <cctype>
#include <charconv>

#include "mock/digest.hpp"
#include "mock/server_impl.hpp"
#include "mock/validate.hpp"

namespace vd::mock {
namespace {

using nlohmann::json;

ApiError video_not_found(const std::string& id) {
    return not_found("video_not_found", "Video with id '" + id + "' not found.");
}

// A LiteLLM-style id: base64 of where the video lives, ending in "+/8=" so that every id has
// the three characters a path must escape.
std::string base64_id(const std::string& hex) {
    std::string payload = "litellm:custom_llm_provider:mock;model_id:tiny;video_id:video_" + hex;
    while (payload.size() % 3 != 0)
        payload += ';';
    payload += "\xfb\xff";
    return base64(payload);
}

bool contains_word(const std::string& text, const std::string& word) {
    if (word.empty()) return false;
    auto it = std::search(text.begin(), text.end(), word.begin(), word.end(), [](char a, char b) {
        return std::tolower(static_cast<unsigned char>(a)) ==
               std::tolower(static_cast<unsigned char>(b));
    });
    return it != text.end();
}

const char* phase_word(Phase p) {
    switch (p) {
        case Phase::queued:
            return "queued";
        case Phase::in_progress:
            return "in_progress";
        case Phase::completed:
            return "completed";
        default:
            return "failed";
    }
}

// The 429 of the reference: Retry-After in whole seconds (rounded up) and the exact wait in ms.
void rate_limited(Call& c, int64_t wait_ms) {
    const Options& o = *c.options;
    c.rec.retry_after_ms = wait_ms;
    c.rec.fault = "rate_limited";
    c.res.set_header("retry-after", std::to_string((wait_ms + 999) / 1000));
    c.res.set_header("retry-after-ms", std::to_string(wait_ms));
    auto limit = std::to_string(std::max<int64_t>(1, static_cast<int64_t>(o.rpm)));
    send_error(c.res,
               {429, "requests", "rate_limit_exceeded", "",
                "Rate limit reached for video creates on requests per min (RPM): Limit " + limit +
                    ". Please try again in " + std::to_string((wait_ms + 999) / 1000) + "s."});
}

// Streams `bytes` (kept alive by `owner`), or only its first half when `truncate`: the declared
// Content-Length stays the full length, so the client sees the body end early.
void send_bytes(httplib::Response& res, std::shared_ptr<const void> owner, const std::string& bytes,
                const std::string& type, bool truncate) {
    res.status = 200;
    size_t stop_at = truncate ? bytes.size() / 2 : bytes.size();
    res.set_content_provider(
        bytes.size(), type,
        [owner, &bytes, stop_at](size_t offset, size_t length, httplib::DataSink& sink) {
            if (offset >= stop_at) {
                HttpServer::drop_current(Drop::close);
                return false;
            }
            sink.write(bytes.data() + offset, std::min(length, stop_at - offset));
            return true;
        });
}

}  // namespace

Wire Server::Impl::wire(const Call& c) const {
    Wire w;
    w.dialect = dialect_of(c.options->dialect);
    w.link_ttl_ms = c.options->link_ttl.count();
    auto host = c.req.get_header_value("Host");
    w.origin = "http://" + (host.empty() ? c.options->host + ":" + std::to_string(port) : host);
    return w;
}

void Server::Impl::answer_created(Call& c, Video v) {
    const Options& o = *c.options;
    const Wire w = wire(c);
    v.id = w.dialect.base64_ids ? base64_id(ids.hex(32)) : "video_" + ids.hex(32);
    v.created_ms = c.now_ms;
    if (auto m = o.models.find(v.model); m != o.models.end())
        v.usd = m->second.usd_per_second * v.seconds;
    v.queue_ms = o.queue_time.count();
    v.gen_ms = o.gen_time.count();
    v.expire_ms = o.expire_after.count();
    v.blocked = contains_word(v.prompt, o.moderation_word);
    c.rec.video_id = v.id;
    auto body = to_json(v, c.now_ms, w);
    store.add(std::move(v));
    bool lost = faults.roll(o.lost_rate);
    bool lost_on_reuse =
        !lost && HttpServer::current_is_reused() && faults.roll(o.lost_on_reuse_rate);
    if (lost || lost_on_reuse) {
        c.rec.fault = lost ? "lost" : "lost_on_reuse";
        // The video exists (and would be billed) but the client never hears of it.
        HttpServer::drop_current(Drop::close);
        c.rec.lost = true;
        c.res.status = 200;
        return;
    }
    // OpenRouter accepts with 202 and the place to poll.
    send_json(c.res, w.dialect.openrouter ? 202 : 200, body);
}

void Server::Impl::create(Call& c) {
    int64_t wait =
        limiter.acquire(c.rec.key_hash, c.options->rpm, c.now_ms, c.options->rate_window.count());
    if (wait > 0) return rate_limited(c, wait);
    // The dialect's fields as the reference's; an image sent as a data: URL is logged as a file.
    std::optional<ApiError> shape = to_reference(dialect_of(c.options->dialect), c.body);
    if (!shape) record_files(c);
    auto spec = shape ? tl::expected<CreateSpec, ApiError>(tl::unexpect, *shape)
                      : validate_create(c.body, c.options->models);
    if (!spec) {
        limiter.release(c.rec.key_hash, c.now_ms);
        return send_error(c.res, spec.error());
    }
    Video v;
    v.model = spec->model;
    v.prompt = spec->prompt;
    v.size = spec->size;
    v.seconds = spec->seconds;
    answer_created(c, std::move(v));
}

void Server::Impl::remix(Call& c) {
    std::string id = c.req.matches[1];
    auto source = store.find(id);
    if (!source) return send_error(c.res, video_not_found(id));
    auto phase = state_at(*source, c.now_ms).phase;
    if (phase != Phase::completed)
        return send_error(c.res, {400, "invalid_request_error", "video_not_completed", "",
                                  "Video '" + id + "' is " + phase_word(phase) +
                                      "; only completed videos can be remixed."});
    int64_t wait =
        limiter.acquire(c.rec.key_hash, c.options->rpm, c.now_ms, c.options->rate_window.count());
    if (wait > 0) return rate_limited(c, wait);
    auto prompt = validate_remix(c.body);
    if (!prompt) {
        limiter.release(c.rec.key_hash, c.now_ms);
        return send_error(c.res, prompt.error());
    }
    Video v;
    v.model = source->model;
    v.prompt = *prompt;
    v.size = source->size;
    v.seconds = source->seconds;
    v.remixed_from = source->id;
    answer_created(c, std::move(v));
}

void Server::Impl::retrieve(Call& c) {
    std::string id = c.req.matches[1];
    c.rec.video_id = id;
    auto v = store.find(id);
    if (!v) return send_error(c.res, video_not_found(id));
    send_json(c.res, 200, to_json(*v, c.now_ms, wire(c)));
}

void Server::Impl::list(Call& c) {
    size_t limit = 20;
    if (c.req.has_param("limit")) {
        auto text = c.req.get_param_value("limit");
        int n = -1;
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
        if (ec != std::errc{} || end != text.data() + text.size() || n < 0 || n > 100)
            return send_error(c.res, invalid_value("limit",
                                                   "Invalid 'limit': expected an integer "
                                                   "between 0 and 100, got '" +
                                                       text + "'."));
        limit = static_cast<size_t>(n);
    }
    std::string order = c.req.has_param("order") ? c.req.get_param_value("order") : "desc";
    if (order != "asc" && order != "desc")
        return send_error(c.res, invalid_value("order",
                                               "Invalid 'order': expected 'asc' or "
                                               "'desc', got '" +
                                                   order + "'."));
    std::string after = c.req.has_param("after") ? c.req.get_param_value("after") : "";
    auto page = store.list(after, limit, order == "asc");
    if (!page)
        return send_error(
            c.res, invalid_value("after", "Invalid 'after': no video with id '" + after + "'."));
    json data = json::array();
    auto w = wire(c);
    for (const auto& v : page->videos)
        data.push_back(to_json(v, c.now_ms, w));
    auto id_or_null = [&](bool first) {
        if (page->videos.empty()) return json(nullptr);
        return json(first ? page->videos.front().id : page->videos.back().id);
    };
    send_json(c.res, 200,
              {{"object", "list"},
               {"data", std::move(data)},
               {"first_id", id_or_null(true)},
               {"last_id", id_or_null(false)},
               {"has_more", page->has_more}});
}

void Server::Impl::remove(Call& c) {
    std::string id = c.req.matches[1];
    c.rec.video_id = id;
    auto v = store.find(id);
    if (!v) return send_error(c.res, video_not_found(id));
    auto phase = state_at(*v, c.now_ms).phase;
    if (phase != Phase::completed && phase != Phase::failed)
        return send_error(c.res, {400, "invalid_request_error", "video_not_finished", "",
                                  "Video '" + id + "' is " + phase_word(phase) +
                                      "; only completed or failed videos can be deleted."});
    store.erase(id);
    send_json(c.res, 200, {{"id", id}, {"object", "video.deleted"}, {"deleted", true}});
}

void Server::Impl::content(Call& c) {
    std::string id = c.req.matches[1];
    c.rec.video_id = id;
    auto v = store.find(id);
    if (!v) return send_error(c.res, video_not_found(id));
    std::string variant = c.req.has_param("variant") ? c.req.get_param_value("variant") : "video";
    if (variant != "video" && variant != "thumbnail" && variant != "spritesheet")
        return send_error(c.res, invalid_value("variant",
                                               "Invalid 'variant': expected 'video', "
                                               "'thumbnail' or 'spritesheet'."));
    auto state = state_at(*v, c.now_ms);
    if (state.phase == Phase::failed)
        return send_error(c.res, {400, "invalid_request_error", "video_failed", "",
                                  "Video '" + id + "' failed; it has no content."});
    if (state.phase != Phase::completed)
        // 409 like "try again later": the client should poll until completed first.
        return send_error(c.res, {409, "invalid_request_error", "video_not_ready", "",
                                  "Video '" + id + "' is " + phase_word(state.phase) +
                                      "; its content is not ready yet."});
    if (state.expired)
        return send_error(
            c.res, not_found("video_expired", "The content of video '" + id + "' has expired."));
    const Wire w = wire(c);
    if (w.dialect.json_content && variant == "video")
        // A link to storage instead of the bytes.
        return send_json(c.res, 200, {{"url", signed_link(w, id, c.now_ms)}});
    send_media(c, *v, variant);
}

// GET /v1/files/ID.mp4?expires=MS&sig=HEX: a presigned storage link. It takes no key, and like
// object storage it refuses a request that brings one besides the signature.
void Server::Impl::file(Call& c) {
    std::string id = c.req.matches[1];
    c.rec.video_id = id;
    if (c.req.has_header("Authorization"))
        return send_error(c.res, {400, "invalid_request_error", "credentials_not_allowed", "",
                                  "Only one auth mechanism allowed: this link is signed, send no "
                                  "Authorization header."});
    int64_t expires = 0;
    std::string text = c.req.get_param_value("expires");
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), expires);
    if (ec != std::errc{} || end != text.data() + text.size() ||
        !link_signature_ok(id, expires, c.req.get_param_value("sig")))
        return send_error(c.res, {403, "invalid_request_error", "signature_mismatch", "",
                                  "The request signature does not match."});
    if (c.now_ms > expires)
        return send_error(
            c.res, {403, "invalid_request_error", "request_expired", "", "Request has expired."});
    auto v = store.find(id);
    if (!v || state_at(*v, c.now_ms).phase != Phase::completed)
        return send_error(c.res, not_found("no_such_key", "The specified key does not exist."));
    send_media(c, *v, "video");
}

void Server::Impl::send_media(Call& c, const Video& v, const std::string& variant) {
    if (video_file && variant == "video")
        return send_bytes(c.res, video_file, *video_file, "video/mp4", false);
    auto media = this->media.get(v.size, v.seconds);
    if (!media)
        return send_error(c.res, {500, "server_error", "processing_error", "",
                                  "The mock could not render the video: " + media.error()});
    const Media& m = **media;
    const std::string& bytes = variant == "video"       ? m.mp4
                               : variant == "thumbnail" ? m.thumbnail
                                                        : m.spritesheet;
    std::string type = variant == "video"       ? "video/mp4"
                       : variant == "thumbnail" ? m.thumbnail_type
                                                : "image/jpeg";
    const Options& o = *c.options;
    if (faults.roll(o.truncate_rate)) {
        c.rec.fault = "truncated";
        return send_bytes(c.res, *media, bytes, type, true);
    }
    if (faults.roll(o.corrupt_rate)) {
        // Same length, boxes intact, bytes flipped inside the media data: only a decode (or a
        // known hash) notices.
        c.rec.fault = "corrupted";
        auto copy = std::make_shared<std::string>(bytes);
        wreck_media_data(*copy);
        return send_bytes(c.res, copy, *copy, type, false);
    }
    send_bytes(c.res, *media, bytes, type, false);
}

void Server::Impl::list_models(Call& c) {
    std::vector<std::string> names;
    for (const auto& [name, spec] : c.options->models) {
        if (!dialect_of(c.options->dialect).chat_models) {
            names.push_back(name);
            continue;
        }
        for (int seconds : spec.seconds)
            for (const auto& size : spec.sizes) {
                auto s = parse_size(size);
                std::string chat = std::string("sora-video-") +
                                   (s && s->height > s->width ? "portrait" : "landscape") + "-" +
                                   std::to_string(seconds) + "s";
                if (std::find(names.begin(), names.end(), chat) == names.end())
                    names.push_back(chat);
            }
    }
    json data = json::array();
    for (const auto& name : names)
        data.push_back(
            {{"id", name}, {"object", "model"}, {"created", 1759708800}, {"owned_by", "system"}});
    send_json(c.res, 200, {{"object", "list"}, {"data", std::move(data)}});
}

void Server::Impl::get_model(Call& c) {
    std::string name = c.req.matches[1];
    if (!c.options->models.count(name))
        return send_error(c.res, not_found("model_not_found", "The model '" + name +
                                                                  "' does not exist or you do not "
                                                                  "have access to it."));
    send_json(c.res, 200,
              {{"id", name}, {"object", "model"}, {"created", 1759708800}, {"owned_by", "system"}});
}

void Server::Impl::unknown(Call& c) {
    send_error(c.res, {404, "invalid_request_error", "unknown_url", "",
                       "Invalid URL (" + c.req.method + " " + c.req.path + ")"});
}

}  // namespace vd::mock
