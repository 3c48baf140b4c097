#include "mock/validate.hpp"

#include <algorithm>
#include <charconv>
#include <set>

#include "mock/image.hpp"

namespace vd::mock {
namespace {

using Error = tl::unexpected<ApiError>;
using nlohmann::json;

std::string type_name(const json& v) {
    if (v.is_number_integer()) return "an integer";
    if (v.is_number()) return "a number";
    if (v.is_boolean()) return "a boolean";
    if (v.is_null()) return "null";
    if (v.is_array()) return "an array";
    if (v.is_object()) return "an object";
    return "a string";
}

size_t code_points(const std::string& s) {
    return static_cast<size_t>(
        std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

std::optional<ApiError> unknown_parameter(const Body& body, const std::set<std::string>& known) {
    for (const auto& [name, value] : body.fields.items())
        if (!known.count(name))
            return ApiError{400, "invalid_request_error", "unknown_parameter", name,
                            "Unknown parameter: '" + name + "'."};
    for (const auto& [name, upload] : body.files)
        if (!known.count(name))
            return ApiError{400, "invalid_request_error", "unknown_parameter", name,
                            "Unknown parameter: '" + name + "'."};
    return std::nullopt;
}

tl::expected<std::string, ApiError> prompt_of(const Body& body) {
    auto it = body.fields.find("prompt");
    if (it == body.fields.end())
        return Error(ApiError{400, "invalid_request_error", "missing_required_parameter", "prompt",
                              "Missing required parameter: 'prompt'."});
    if (!it->is_string())
        return Error(
            invalid_type("prompt", "Invalid type for 'prompt': expected a string, but got " +
                                       type_name(*it) + " instead."));
    const auto& prompt = it->get_ref<const std::string&>();
    size_t n = code_points(prompt);
    if (n == 0)
        return Error(ApiError{400, "invalid_request_error", "empty_string", "prompt",
                              "Invalid 'prompt': empty string. Expected a string with minimum "
                              "length 1."});
    if (n > 32000)
        return Error(ApiError{400, "invalid_request_error", "string_above_max_length", "prompt",
                              "Invalid 'prompt': string too long. Expected a string with maximum "
                              "length 32000, but got a string with length " +
                                  std::to_string(n) + " instead."});
    return prompt;
}

// A string field (every form field is one); `fallback` when absent.
tl::expected<std::string, ApiError> string_field(const Body& body, const std::string& name,
                                                 const std::string& fallback,
                                                 const std::string& expected) {
    auto it = body.fields.find(name);
    if (it == body.fields.end()) return fallback;
    if (!it->is_string())
        return Error(invalid_type(name, "Invalid type for '" + name + "': expected " + expected +
                                            ", but got " + type_name(*it) + " instead."));
    return it->get<std::string>();
}

template <class T>
std::string one_of(const std::vector<T>& values) {
    std::string out;
    for (size_t i = 0; i < values.size(); ++i) {
        if (i) out += i + 1 == values.size() ? (values.size() > 2 ? ", and " : " and ") : ", ";
        out += "'";
        if constexpr (std::is_same_v<T, int>)
            out += std::to_string(values[i]);
        else
            out += values[i];
        out += "'";
    }
    return out;
}

std::optional<ApiError> check_image(const Body& body, Size size) {
    auto file = body.files.find("input_reference");
    if (file == body.files.end()) {
        auto field = body.fields.find("input_reference");
        if (field == body.fields.end()) return std::nullopt;
        if (body.form)
            return invalid_type("input_reference",
                                "Invalid type for 'input_reference': expected a file upload.");
        return invalid_value("input_reference",
                             "The mock provider takes 'input_reference' as a file upload or a "
                             "base64 data: URL; it cannot fetch remote URLs or file ids.");
    }
    auto info = sniff_image(file->second.bytes);
    if (info.kind.empty())
        return invalid_value("input_reference",
                             "Invalid file format for 'input_reference'. Supported formats are "
                             "image/jpeg, image/png and image/webp.");
    if (info.width != size.width || info.height != size.height)
        return invalid_value("input_reference",
                             "Inpaint image must match the requested width and height");
    return std::nullopt;
}

}  // namespace

std::map<std::string, ModelSpec> default_models() {
    return {
        {"sora-2", {"sora-2", {4, 8, 12}, {"720x1280", "1280x720"}, 0.10}},
        {"sora-2-pro",
         {"sora-2-pro", {4, 8, 12}, {"720x1280", "1280x720", "1024x1792", "1792x1024"}, 0.30}},
    };
}

tl::expected<CreateSpec, ApiError> validate_create(const Body& body,
                                                   const std::map<std::string, ModelSpec>& models) {
    if (body.error) return Error(*body.error);
    if (auto e = unknown_parameter(body, {"prompt", "model", "seconds", "size", "input_reference"}))
        return Error(*e);
    CreateSpec spec;
    auto prompt = prompt_of(body);
    if (!prompt) return Error(prompt.error());
    spec.prompt = *prompt;

    auto model = string_field(body, "model", "sora-2", "a string");
    if (!model) return Error(model.error());
    auto m = models.find(*model);
    if (m == models.end())
        return Error(
            ApiError{404, "invalid_request_error", "model_not_found", "model",
                     "The model '" + *model + "' does not exist or you do not have access to it."});
    spec.model = *model;
    const ModelSpec& ms = m->second;

    // Defaults as the reference documents them, unless the model does not offer them.
    auto has = [](const auto& v, const auto& x) {
        return std::find(v.begin(), v.end(), x) != v.end();
    };
    std::string default_seconds =
        has(ms.seconds, 4) || ms.seconds.empty() ? "4" : std::to_string(ms.seconds.front());
    std::string default_size =
        has(ms.sizes, std::string("720x1280")) || ms.sizes.empty() ? "720x1280" : ms.sizes.front();

    auto seconds = string_field(body, "seconds", default_seconds, "one of " + one_of(ms.seconds));
    if (!seconds) return Error(seconds.error());
    int n = 0;
    auto [end, ec] = std::from_chars(seconds->data(), seconds->data() + seconds->size(), n);
    if (ec != std::errc{} || end != seconds->data() + seconds->size() || !has(ms.seconds, n))
        return Error(invalid_value("seconds", "Invalid value: '" + *seconds +
                                                  "'. Supported values are: " + one_of(ms.seconds) +
                                                  "."));
    spec.seconds = n;

    auto size = string_field(body, "size", default_size, "a string");
    if (!size) return Error(size.error());
    auto parsed = parse_size(*size);
    if (!parsed || !has(ms.sizes, *size))
        return Error(invalid_value(
            "size",
            "Invalid value: '" + *size + "'. Supported values are: " + one_of(ms.sizes) + "."));
    spec.size = *parsed;

    if (auto e = check_image(body, spec.size)) return Error(*e);
    return spec;
}

tl::expected<std::string, ApiError> validate_remix(const Body& body) {
    if (body.error) return Error(*body.error);
    if (auto e = unknown_parameter(body, {"prompt"})) return Error(*e);
    return prompt_of(body);
}

}  // namespace vd::mock
