// The reference protocol's requests: create, remix, retrieve, list, content, delete, models.
#include <algorithm>
#include <string_view>
#include <utility>

#include "pipeline/openai_videos/openai_videos.hpp"
#include "pipeline/openai_videos/text.hpp"

namespace vd::openai_videos {

using namespace text;

namespace {

using nlohmann::json;

std::string base(const ProviderSettings& p) {
    std::string_view b = p.base_url;
    while (!b.empty() && b.back() == '/')
        b.remove_suffix(1);
    return std::string(b);
}

// base_url + one of the dialect's paths, with "{id}" replaced by the encoded id.
std::string url_of(const ProviderSettings& p, const std::string& path, const std::string& id = "") {
    std::string out = path;
    if (auto at = out.find("{id}"); at != std::string::npos)
        out.replace(at, 4, encode_path_segment(id));
    return base(p) + out;
}

HttpRequest request(const ProviderSettings& p, std::string method, std::string url, int slot) {
    HttpRequest r;
    r.method = std::move(method);
    r.url = std::move(url);
    r.provider = p.name;
    r.key_slot = slot;
    r.authenticated = true;
    r.side_effects = r.method != "GET" && r.method != "HEAD";
    return r;
}

void set_json_body(HttpRequest& r, const json& body) {
    r.headers.emplace_back("Content-Type", "application/json");
    r.body = body.dump();
}

std::string image_content_type(std::string_view path) {
    auto dot = path.rfind('.');
    std::string ext = dot == std::string_view::npos ? "" : to_lower(path.substr(dot));
    if (ext == ".png") return "image/png";
    if (ext == ".jpg" || ext == ".jpeg") return "image/jpeg";
    if (ext == ".webp") return "image/webp";
    return "application/octet-stream";
}

bool is_unreserved(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

}  // namespace

std::string encode_path_segment(std::string_view id) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(id.size());
    for (char c : id) {
        if (is_unreserved(c)) {
            out += c;
        } else {
            auto b = static_cast<unsigned char>(c);
            out += '%';
            out += kHex[b >> 4];
            out += kHex[b & 0xF];
        }
    }
    return out;
}

// "16:9" and "720p" for 1280x720: the ratio in lowest terms and the short side.
std::pair<std::string, std::string> aspect_and_resolution(Size s) {
    int a = s.width, b = s.height;
    while (b != 0)
        a = std::exchange(b, a % b);
    const int g = a > 0 ? a : 1;
    return {std::to_string(s.width / g) + ":" + std::to_string(s.height / g),
            std::to_string(std::min(s.width, s.height)) + "p"};
}

HttpRequest build_create(const ProviderSettings& p, const JobSpec& job, int slot) {
    HttpRequest r = request(p, "POST", url_of(p, p.dialect.paths.create), slot);
    const Dialect& d = p.dialect;
    bool has_image = !job.image.empty();
    // A file part needs multipart; a data: URL or a frame list needs JSON. Without an image the
    // dialect's encoding decides.
    bool multipart =
        has_image ? d.image == ImageField::file : d.encoding == CreateEncoding::multipart;
    const auto [aspect, resolution] = aspect_and_resolution(job.size);

    if (multipart) {
        auto field = [&](std::string name, std::string value) {
            r.form.push_back(FormPart{std::move(name), std::move(value), "", ""});
        };
        field("prompt", job.prompt);
        if (!job.model.empty()) field("model", job.model);
        field(d.duration == DurationField::duration_int ? "duration" : "seconds",
              std::to_string(job.seconds));
        switch (d.size) {
            case SizeField::size:
                field("size", to_string(job.size));
                break;
            case SizeField::width_height:
                field("width", std::to_string(job.size.width));
                field("height", std::to_string(job.size.height));
                break;
            case SizeField::aspect_resolution:
                field("aspect_ratio", aspect);
                field("resolution", resolution);
                break;
        }
        if (has_image)
            r.form.push_back(FormPart{d.image_field, "", job.image, image_content_type(job.image)});
        return r;
    }

    json body = json::object();
    body["prompt"] = job.prompt;
    if (!job.model.empty()) body["model"] = job.model;
    switch (d.duration) {
        case DurationField::seconds_string:
            body["seconds"] = std::to_string(job.seconds);
            break;
        case DurationField::seconds_int:
            body["seconds"] = job.seconds;
            break;
        case DurationField::duration_int:
            body["duration"] = job.seconds;
            break;
    }
    switch (d.size) {
        case SizeField::size:
            body["size"] = to_string(job.size);
            break;
        case SizeField::width_height:
            body["width"] = job.size.width;
            body["height"] = job.size.height;
            break;
        case SizeField::aspect_resolution:
            body["aspect_ratio"] = aspect;
            body["resolution"] = resolution;
            break;
    }
    if (has_image) {
        // The shell puts the file in as a data: URL where the pointer says.
        // image_field is a name or a dotted path of names ("input_reference.image_url").
        std::string pointer = "/" + d.image_field;
        std::replace(pointer.begin(), pointer.end(), '.', '/');
        if (d.image == ImageField::frame_images) {
            body[json::json_pointer(pointer)] = json::array({{{"type", "image_url"},
                                                              {"image_url", {{"url", ""}}},
                                                              {"frame_type", "first_frame"}}});
            pointer += "/0/image_url/url";
        } else {
            body[json::json_pointer(pointer)] = "";
        }
        r.embed.push_back(EmbeddedFile{pointer, job.image, image_content_type(job.image)});
    }
    set_json_body(r, body);
    return r;
}

HttpRequest build_remix(const ProviderSettings& p, const JobSpec& job, int slot) {
    HttpRequest r = request(p, "POST", url_of(p, p.dialect.paths.remix, job.remix_of), slot);
    set_json_body(r, json{{"prompt", job.prompt}});
    return r;
}

HttpRequest build_retrieve(const ProviderSettings& p, const std::string& video_id, int slot) {
    return request(p, "GET", url_of(p, p.dialect.paths.get, video_id), slot);
}

HttpRequest build_list(const ProviderSettings& p, int limit, const std::string& after, int slot) {
    std::string url =
        url_of(p, p.dialect.paths.list) + "?limit=" + std::to_string(limit) + "&order=desc";
    if (!after.empty()) url += "&after=" + encode_path_segment(after);
    return request(p, "GET", std::move(url), slot);
}

HttpRequest build_content(const ProviderSettings& p, const std::string& video_id,
                          const std::string& variant, int slot) {
    std::string v = variant.empty() ? "video" : variant;
    return request(
        p, "GET",
        url_of(p, p.dialect.paths.content, video_id) + "?variant=" + encode_path_segment(v), slot);
}

HttpRequest build_delete(const ProviderSettings& p, const std::string& video_id, int slot) {
    return request(p, "DELETE", url_of(p, p.dialect.paths.remove, video_id), slot);
}

HttpRequest build_models(const ProviderSettings& p, int slot) {
    return request(p, "GET", base(p) + "/models", slot);
}

}  // namespace vd::openai_videos
