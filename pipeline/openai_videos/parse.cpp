// Answers: a video, a list of videos and an error, read tolerantly from any gateway's JSON.
#include "pipeline/openai_videos/openai_videos.hpp"
#include "pipeline/openai_videos/text.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <string_view>

namespace vd::openai_videos {

using namespace text;

namespace {

using nlohmann::json;

// ---- responses ----

// Bytes from the wire made safe for a message: printable ASCII only, since the message ends up
// in JSON error files and a cut UTF-8 sequence would make them unwritable.
std::string printable(std::string_view bytes) {
    std::string out;
    for (char c : bytes) {
        auto b = static_cast<unsigned char>(c);
        out += b < 0x20 ? ' ' : b >= 0x7f ? '?' : c;
    }
    return out;
}

// What arrived, for error messages: the start of the body.
std::string first_bytes(std::string_view body) {
    constexpr size_t kMax = 60;
    return printable(body.substr(0, kMax)) + (body.size() > kMax ? "..." : "");
}

std::string media_type(const HttpResult& r) {
    std::string_view ct = r.content_type;
    std::optional<std::string> header;
    if (ct.empty() && (header = r.header("content-type"))) ct = *header;
    auto semi = ct.find(';');
    if (semi != std::string_view::npos) ct = ct.substr(0, semi);
    return to_lower(trim(ct));
}

bool is_json_type(std::string_view type) {
    return type == "application/json" || ends_with(type, "+json");
}

// The body as JSON, or a message naming what arrived instead.
tl::expected<json, ParseError> body_json(const HttpResult& r) {
    std::string type = media_type(r);
    std::string_view body = trim(r.body);
    bool looks_json = !body.empty() && (body.front() == '{' || body.front() == '[');
    if (!is_json_type(type) && !(type.empty() && looks_json)) {
        std::string what = type.empty() ? "no content type" : printable(type);
        std::string bytes = body.empty() ? "empty body" : "first bytes: " + first_bytes(body);
        return tl::unexpected(ParseError{"expected JSON, got " + what + " (" + bytes + ")"});
    }
    json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) {
        std::string bytes = body.empty() ? "empty body" : "first bytes: " + first_bytes(body);
        return tl::unexpected(ParseError{"invalid JSON body (" + bytes + ")"});
    }
    return j;
}

std::optional<std::string> get_string(const json& o, const char* key) {
    auto it = o.find(key);
    if (it == o.end() || !it->is_string()) return std::nullopt;
    return it->get<std::string>();
}

std::optional<double> number_from(const json& v) {
    if (v.is_number()) return v.get<double>();
    if (v.is_string()) {
        std::string_view s = trim(v.get_ref<const std::string&>());
        if (!s.empty() && s.back() == '%') s = trim(s.substr(0, s.size() - 1));
        double d = 0;
        auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
        if (ec == std::errc{} && p == s.data() + s.size() && !s.empty() && std::isfinite(d))
            return d;
    }
    return std::nullopt;
}

std::optional<double> get_number(const json& o, const char* key) {
    auto it = o.find(key);
    if (it == o.end()) return std::nullopt;
    return number_from(*it);
}

// Ids and codes are strings, but some gateways send numbers.
std::optional<std::string> string_or_number(const json& v) {
    if (v.is_string()) return v.get<std::string>();
    if (v.is_number_unsigned()) return std::to_string(v.get<uint64_t>());
    if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
    if (v.is_number()) return v.dump();
    return std::nullopt;
}

// Unix seconds; a value too large to be seconds is taken as milliseconds (some gateways).
std::optional<int64_t> get_time(const json& o, const char* key) {
    auto d = get_number(o, key);
    if (!d || *d < 0 || *d > 1e16) return std::nullopt;
    auto t = static_cast<int64_t>(*d);
    return t > 100'000'000'000 ? t / 1000 : t;
}

// The value at a field path ("url", "metadata.url", "output.videos[0].url", "urls[0]"); null
// when any step is missing.
const json* at_path(const json& root, std::string_view path) {
    auto steps = parse_field_path(path);
    if (!steps) return nullptr;
    const json* cur = &root;
    for (const auto& step : *steps) {
        if (step.is_index) {
            if (!cur->is_array() || cur->size() <= step.index) return nullptr;
            cur = &(*cur)[step.index];
        } else {
            if (!cur->is_object()) return nullptr;
            auto it = cur->find(step.key);
            if (it == cur->end()) return nullptr;
            cur = &*it;
        }
    }
    return cur;
}

std::string result_url_of(const json& v, const Dialect& d) {
    auto usable = [](const json* c) {
        return c && c->is_string() && !c->get_ref<const std::string&>().empty();
    };
    if (!d.result_field.empty()) {
        const json* c = at_path(v, d.result_field);
        return usable(c) ? c->get<std::string>() : "";
    }
    for (const char* known : {"url", "video_url", "metadata.url", "outputs.video_url",
                              "output.videos[0].url", "urls[0]"})
        if (const json* c = at_path(v, known); usable(c)) return c->get<std::string>();
    return "";
}

// An error value: an object {code, message, type, param} or a plain message string.
std::optional<ProviderError> error_from(const json& e) {
    ProviderError pe;
    if (e.is_string()) {
        if (e.get_ref<const std::string&>().empty()) return std::nullopt;
        pe.message = e.get<std::string>();
        pe.raw = json{{"message", pe.message}};
        return pe;
    }
    if (!e.is_object()) return std::nullopt;
    if (auto it = e.find("code"); it != e.end()) pe.code = string_or_number(*it).value_or("");
    pe.message = get_string(e, "message").value_or("");
    pe.type = get_string(e, "type").value_or("");
    pe.param = get_string(e, "param").value_or("");
    if (pe.code.empty() && pe.message.empty() && pe.type.empty()) return std::nullopt;
    pe.raw = e;
    return pe;
}

// new-api answers {"code": "success", "message": "", "data": ...} when all is well.
bool is_success_code(const json& code) {
    if (code.is_number()) return code == 0 || code == 200;
    if (code.is_boolean()) return code.get<bool>();
    if (!code.is_string()) return false;
    std::string c = to_lower(code.get<std::string>());
    return c == "success" || c == "ok" || c == "0" || c == "200";
}

std::optional<ProviderError> error_in(const json& j) {
    if (!j.is_object()) return std::nullopt;
    if (auto it = j.find("error"); it != j.end()) return error_from(*it);
    // new-api's top-level shape: {"code": ..., "message": ..., "data": ...}.
    if (j.contains("id")) return std::nullopt;
    ProviderError pe;
    auto code = j.find("code");
    if (code != j.end()) {
        if (is_success_code(*code)) return std::nullopt;
        pe.code = string_or_number(*code).value_or("");
    }
    pe.message = get_string(j, "message").value_or("");
    if (pe.code.empty() && pe.message.empty()) return std::nullopt;
    pe.type = get_string(j, "type").value_or("");
    pe.raw = j;
    return pe;
}

tl::expected<Video, ParseError> video_from(const json& top, const Dialect& d) {
    if (!top.is_object())
        return tl::unexpected(
            ParseError{std::string("expected a video object, got ") + top.type_name()});
    const json* obj = &top;
    if (!top.contains("id")) {
        auto data = top.find("data");
        if (data != top.end() && data->is_object() && data->contains("id")) obj = &*data;
    }
    const json& o = *obj;

    Video v;
    auto id = o.find("id");
    if (id == o.end()) {
        if (auto e = error_in(top))
            return tl::unexpected(ParseError{"provider error instead of a video: " +
                                             (e->code.empty() ? "" : e->code + ": ") + e->message});
        return tl::unexpected(ParseError{"video object without id"});
    }
    auto id_text = string_or_number(*id);
    if (!id_text || id_text->empty())
        return tl::unexpected(
            ParseError{std::string("video id is not a usable string (got ") + id->dump() + ")"});
    v.id = *id_text;
    auto status = get_string(o, "status");
    if (!status) return tl::unexpected(ParseError{"video " + v.id + " has no status string"});
    v.status_word = *status;
    v.status = classify_status(v.status_word, d);

    if (auto p = get_number(o, "progress")) {
        // Truncate: 99.6 must not read as done.
        v.progress = static_cast<int>(std::clamp(*p, 0.0, 100.0));
    }
    v.created_at = get_time(o, "created_at");
    v.completed_at = get_time(o, "completed_at");
    v.expires_at = get_time(o, "expires_at");
    v.model = get_string(o, "model").value_or("");
    v.prompt = get_string(o, "prompt").value_or("");
    v.remixed_from = get_string(o, "remixed_from_video_id").value_or("");
    v.size = get_string(o, "size").value_or("");
    if (v.size.empty()) {
        auto w = get_number(o, "width"), h = get_number(o, "height");
        if (w && h && *w > 0 && *h > 0 && *w < 1e5 && *h < 1e5)
            v.size = to_string(Size{static_cast<int>(*w), static_cast<int>(*h)});
    }
    auto secs = get_number(o, "seconds");
    if (!secs) secs = get_number(o, "duration");
    if (secs && *secs >= 0 && *secs < 1e6) v.seconds = static_cast<int>(std::lround(*secs));
    v.result_url = result_url_of(o, d);
    v.poll_url = get_string(o, "polling_url").value_or("");
    if (const json* cost = at_path(o, "usage.cost"))
        if (auto usd = number_from(*cost); usd && *usd >= 0 && *usd < 1e6) v.cost_usd = usd;
    if (auto it = o.find("error"); it != o.end()) v.error = error_from(*it);
    v.raw = o;
    return v;
}

}  // namespace

std::optional<std::vector<PathStep>> parse_field_path(std::string_view path) {
    std::vector<PathStep> steps;
    size_t i = 0;
    auto is_name = [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '-';
    };
    while (i < path.size()) {
        size_t start = i;
        while (i < path.size() && is_name(path[i]))
            ++i;
        if (i == start) return std::nullopt;  // an empty key
        steps.push_back(PathStep{std::string(path.substr(start, i - start)), 0, false});
        while (i < path.size() && path[i] == '[') {
            size_t close = path.find(']', i);
            if (close == std::string_view::npos || close == i + 1) return std::nullopt;
            size_t n = 0;
            auto [end, ec] = std::from_chars(path.data() + i + 1, path.data() + close, n);
            if (ec != std::errc{} || end != path.data() + close || n > 1000) return std::nullopt;
            steps.push_back(PathStep{"", n, true});
            i = close + 1;
        }
        if (i == path.size()) break;
        if (path[i] != '.' || i + 1 == path.size()) return std::nullopt;
        ++i;
    }
    if (steps.empty()) return std::nullopt;
    return steps;
}

// ---- responses ----

tl::expected<Video, ParseError> parse_video(const HttpResult& r, const Dialect& d) {
    auto j = body_json(r);
    if (!j) return tl::unexpected(j.error());
    return video_from(*j, d);
}

tl::expected<VideoList, ParseError> parse_list(const HttpResult& r, const Dialect& d) {
    auto j = body_json(r);
    if (!j) return tl::unexpected(j.error());
    const json* items = nullptr;
    if (j->is_array()) {
        items = &*j;  // a bare array from a lax gateway
    } else if (j->is_object()) {
        auto it = j->find("data");
        if (it != j->end() && it->is_array()) items = &*it;
    }
    if (!items) {
        if (auto e = error_in(*j))
            return tl::unexpected(ParseError{"provider error instead of a list: " +
                                             (e->code.empty() ? "" : e->code + ": ") + e->message});
        return tl::unexpected(ParseError{"list without a data array"});
    }
    VideoList list;
    std::string last_seen_id;
    for (const auto& item : *items) {
        if (item.is_object())
            if (auto id = item.find("id"); id != item.end())
                last_seen_id = string_or_number(*id).value_or(last_seen_id);
        if (auto v = video_from(item, d)) list.data.push_back(std::move(*v));
    }
    if (j->is_object()) {
        if (auto it = j->find("has_more"); it != j->end() && it->is_boolean())
            list.has_more = it->get<bool>();
        list.last_id = get_string(*j, "last_id").value_or("");
    }
    // Pagination must go on past an item we could not parse.
    if (list.last_id.empty()) list.last_id = last_seen_id;
    return list;
}

std::string parse_content_link(const HttpResult& r, const Dialect& d) {
    auto j = body_json(r);
    if (!j || !j->is_object()) return "";
    const json* o = &*j;
    if (auto data = j->find("data"); data != j->end() && data->is_object()) o = &*data;
    std::string link = result_url_of(*o, d);
    if (link.empty() && !d.result_field.empty()) link = result_url_of(*o, Dialect{});
    return link;
}

std::optional<ProviderError> parse_error(const HttpResult& r) {
    std::string_view body = trim(r.body);
    if (body.empty() || (body.front() != '{')) return std::nullopt;
    // Error bodies often come with the wrong content type; the shape decides.
    json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) return std::nullopt;
    return error_in(j);
}

}  // namespace vd::openai_videos
