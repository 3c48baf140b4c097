#include "mock/dialect.hpp"

#include <cmath>
#include <cstdio>
#include <numeric>

namespace vd::mock {
namespace {

using nlohmann::json;

ApiError unknown(const std::string& name, const std::string& dialect) {
    return ApiError{
        400, "invalid_request_error", "unknown_parameter", name,
        "Unknown parameter: '" + name + "' (a " + dialect + " server does not take it)."};
}

// `duration` as a whole number of seconds, into the reference's `seconds` string.
std::optional<ApiError> take_duration(Body& body, bool number_ok) {
    auto it = body.fields.find("duration");
    if (it == body.fields.end()) return std::nullopt;
    bool whole = it->is_number_integer() || (number_ok && it->is_number() &&
                                             std::floor(it->get<double>()) == it->get<double>());
    if (!whole)
        return invalid_type(
            "duration", "Invalid type for 'duration': expected an integer, but got " + it->dump() +
                            " instead.");
    body.fields["seconds"] = std::to_string(static_cast<int>(it->get<double>()));
    body.fields.erase("duration");
    return std::nullopt;
}

// "16:9" + "720p" into "1280x720": the resolution is the short side.
std::optional<ApiError> take_aspect(Body& body) {
    auto ar = body.fields.find("aspect_ratio");
    auto res = body.fields.find("resolution");
    if (ar == body.fields.end() && res == body.fields.end()) return std::nullopt;
    if (ar == body.fields.end() || res == body.fields.end() || !ar->is_string() ||
        !res->is_string())
        return invalid_value("aspect_ratio",
                             "'aspect_ratio' and 'resolution' go together, both strings.");
    int a = 0, b = 0, p = 0;
    char colon = 0, suffix = 0;
    if (std::sscanf(ar->get_ref<const std::string&>().c_str(), "%d%c%d", &a, &colon, &b) != 3 ||
        colon != ':' || a <= 0 || b <= 0)
        return invalid_value("aspect_ratio", "Invalid 'aspect_ratio': expected W:H like '16:9'.");
    if (std::sscanf(res->get_ref<const std::string&>().c_str(), "%d%c", &p, &suffix) != 2 ||
        suffix != 'p' || p <= 0)
        return invalid_value("resolution", "Invalid 'resolution': expected like '720p'.");
    int w = a >= b ? p * a / b : p, h = a >= b ? p : p * b / a;
    body.fields["size"] = std::to_string(w) + "x" + std::to_string(h);
    body.fields.erase("aspect_ratio");
    body.fields.erase("resolution");
    return std::nullopt;
}

// An image given as a data: URL at `value`, as the reference's file upload.
std::optional<ApiError> take_image(Body& body, const json& value, const std::string& param) {
    auto upload = upload_from_data_url(value);
    if (!upload)
        return invalid_value(param, "Invalid '" + param +
                                        "': the mock takes a base64 data: URL here; it cannot "
                                        "fetch remote URLs.");
    body.files["input_reference"] = std::move(*upload);
    return std::nullopt;
}

}  // namespace

const std::vector<std::string>& dialect_names() {
    static const std::vector<std::string> names{
        "openai",       "new-api",    "processing-url", "generations-jobs",
        "json-content", "openrouter", "litellm",        "chat-sse"};
    return names;
}

Dialect dialect_of(std::string_view name) {
    Dialect d;
    d.jobs_paths = name == "generations-jobs";
    d.processing_url = name == "new-api" || name == "processing-url";
    d.json_content = name == "json-content";
    d.openrouter = name == "openrouter";
    d.base64_ids = name == "litellm";
    d.chat_models = name == "chat-sse";
    return d;
}

std::optional<ApiError> to_reference(const Dialect& d, Body& body) {
    if (body.error || (!d.json_content && !d.openrouter)) return std::nullopt;
    const std::string name = d.openrouter ? "openrouter" : "json-content";
    if (body.form)
        return ApiError{400, "invalid_request_error", "unsupported_content_type", "",
                        "Send application/json: a " + name + " server takes no form uploads."};
    // Both take the duration as `duration`; only OpenRouter wants the size as a ratio.
    for (const char* reference : {"seconds", "size", "input_reference"})
        if (body.fields.contains(reference) && (d.openrouter || reference != std::string("size")))
            return unknown(reference, name);
    if (auto e = take_duration(body, d.openrouter)) return e;
    if (d.json_content) {
        if (auto it = body.fields.find("image_url"); it != body.fields.end()) {
            if (auto e = take_image(body, *it, "image_url")) return e;
            body.fields.erase("image_url");
        }
        return std::nullopt;
    }
    if (auto e = take_aspect(body)) return e;
    if (auto it = body.fields.find("frame_images"); it != body.fields.end()) {
        const json* url = nullptr;
        if (it->is_array() && it->size() == 1 && (*it)[0].is_object()) {
            const json& frame = (*it)[0];
            if (frame.value("type", "") == "image_url" && frame.contains("image_url") &&
                frame["image_url"].is_object() && frame["image_url"].contains("url"))
                url = &frame["image_url"]["url"];
        }
        if (!url)
            return invalid_value(
                "frame_images",
                "Invalid 'frame_images': expected [{\"type\": \"image_url\", "
                "\"image_url\": {\"url\": ...}, \"frame_type\": \"first_frame\"}].");
        if (auto e = take_image(body, *url, "frame_images")) return e;
        body.fields.erase("frame_images");
    }
    return std::nullopt;
}

}  // namespace vd::mock
