#include "mock/body.hpp"

#include <openssl/evp.h>

namespace vd::mock {
namespace {

std::optional<std::string> base64_decode(std::string_view in) {
    if (in.size() % 4 != 0) return std::nullopt;
    std::string out(in.size() / 4 * 3, '\0');
    int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(in.data()),
                            static_cast<int>(in.size()));
    if (n < 0) return std::nullopt;
    size_t pad = 0;
    for (size_t i = in.size(); i > 0 && in[i - 1] == '='; --i)
        ++pad;
    out.resize(static_cast<size_t>(n) - pad);
    return out;
}

// `input_reference: {image_url: "data:image/png;base64,..."}` becomes an upload like a form file.
void take_data_url(Body& body) {
    auto it = body.fields.find("input_reference");
    if (it == body.fields.end() || !it->is_object()) return;
    auto url = it->find("image_url");
    if (url == it->end()) return;
    if (auto upload = upload_from_data_url(*url))
        body.files["input_reference"] = std::move(*upload);
}

}  // namespace

std::optional<Upload> upload_from_data_url(const nlohmann::json& value) {
    if (!value.is_string()) return std::nullopt;
    const std::string& s = value.get_ref<const std::string&>();
    auto comma = s.find(',');
    if (s.rfind("data:", 0) != 0 || comma == std::string::npos) return std::nullopt;
    auto meta = std::string_view(s).substr(5, comma - 5);
    if (meta.size() < 7 || meta.substr(meta.size() - 7) != ";base64") return std::nullopt;
    auto bytes = base64_decode(std::string_view(s).substr(comma + 1));
    if (!bytes) return std::nullopt;
    return Upload{std::move(*bytes), "", std::string(meta.substr(0, meta.size() - 7))};
}

Body parse_body(const httplib::Request& req) {
    Body body;
    if (req.is_multipart_form_data()) {
        body.form = true;
        for (const auto& [name, part] : req.files) {
            if (!part.filename.empty() || !part.content_type.empty())
                body.files.emplace(name, Upload{part.content, part.filename, part.content_type});
            else if (!body.fields.contains(name))
                body.fields[name] = part.content;
        }
        return body;
    }
    if (req.body.empty()) return body;
    auto type = req.get_header_value("Content-Type");
    if (type.find("json") == std::string::npos && type.find("text/plain") == std::string::npos &&
        !type.empty()) {
        body.error = ApiError{400, "invalid_request_error", "unsupported_content_type", "",
                              "Unsupported Content-Type '" + type +
                                  "': send application/json or multipart/form-data."};
        return body;
    }
    auto parsed = nlohmann::json::parse(req.body, nullptr, false);
    if (parsed.is_discarded() || !parsed.is_object()) {
        body.error = ApiError{400, "invalid_request_error", "invalid_json", "",
                              "We could not parse the JSON body of your request: send a JSON "
                              "object."};
        return body;
    }
    body.fields = std::move(parsed);
    take_data_url(body);
    return body;
}

nlohmann::json loggable_fields(const nlohmann::json& fields) {
    // Every long data: URL, wherever the dialect puts it, shortened.
    if (fields.is_string()) {
        const auto& url = fields.get_ref<const std::string&>();
        if (url.rfind("data:", 0) == 0 && url.size() > 96)
            return url.substr(0, url.find(',') + 1) + "...(" + std::to_string(url.size()) +
                   " chars)";
        return fields;
    }
    if (!fields.is_structured()) return fields;
    auto out = fields;
    for (auto& item : out.items())
        item.value() = loggable_fields(item.value());
    return out;
}

}  // namespace vd::mock
