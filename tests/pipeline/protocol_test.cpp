#include <catch2/catch.hpp>

#include "pipeline/openai_videos/openai_videos.hpp"

using namespace vd;
using namespace vd::protocol;
using namespace vd::openai_videos;
using nlohmann::json;

namespace {

ProviderSettings provider(Dialect d = {}) {
    ProviderSettings p;
    p.name = "acme";
    p.base_url = "http://127.0.0.1:8089/v1";
    p.dialect = std::move(d);
    return p;
}

Dialect with_encoding(CreateEncoding e) {
    Dialect d;
    d.encoding = e;
    return d;
}

JobSpec cat_job() {
    JobSpec j;
    j.name = "cat";
    j.provider = "acme";
    j.model = "sora-2";
    j.seconds = 8;
    j.size = Size{1280, 720};
    j.prompt = "a cat plays the piano";
    return j;
}

const FormPart* part(const HttpRequest& r, const std::string& name) {
    for (const auto& f : r.form)
        if (f.name == name) return &f;
    return nullptr;
}

std::optional<std::string> header(const HttpRequest& r, const std::string& name) {
    for (const auto& [k, v] : r.headers)
        if (k == name) return v;
    return std::nullopt;
}

HttpResult reply(int status, std::string body, std::string content_type = "application/json",
                 std::vector<std::pair<std::string, std::string>> headers = {}) {
    HttpResult r;
    r.status = status;
    r.body = std::move(body);
    r.content_type = std::move(content_type);
    r.headers = std::move(headers);
    return r;
}

Video parsed(const std::string& body, const Dialect& d = {}) {
    auto v = parse_video(reply(200, body), d);
    INFO(body);
    REQUIRE(v.has_value());
    return *v;
}

constexpr const char* kOddId = "task:a/b+c=d";
constexpr const char* kOddIdEncoded = "task%3Aa%2Fb%2Bc%3Dd";

}  // namespace

// ---- status words ----

TEST_CASE("every built-in status word maps to its class", "[protocol]") {
    struct Row {
        const char* word;
        VideoStatus status;
    };
    const Row rows[] = {
        {"queued", VideoStatus::queued},
        {"pending", VideoStatus::queued},
        {"submitted", VideoStatus::queued},
        {"not_start", VideoStatus::queued},
        {"preparing", VideoStatus::queued},
        {"created", VideoStatus::queued},
        {"starting", VideoStatus::queued},
        {"in_progress", VideoStatus::in_progress},
        {"processing", VideoStatus::in_progress},
        {"running", VideoStatus::in_progress},
        {"generating", VideoStatus::in_progress},
        {"completed", VideoStatus::completed},
        {"complete", VideoStatus::completed},
        {"success", VideoStatus::completed},
        {"succeeded", VideoStatus::completed},
        {"finished", VideoStatus::completed},
        {"failed", VideoStatus::failed},
        {"failure", VideoStatus::failed},
        {"fail", VideoStatus::failed},
        {"error", VideoStatus::failed},
        {"expired", VideoStatus::failed},
        {"cancelled", VideoStatus::cancelled},
        {"canceled", VideoStatus::cancelled},
    };
    for (const auto& row : rows) {
        INFO(row.word);
        CHECK(classify_status(row.word, Dialect{}) == row.status);
    }
}

TEST_CASE("status words match in any case and with stray spaces", "[protocol]") {
    CHECK(classify_status("COMPLETED", Dialect{}) == VideoStatus::completed);
    CHECK(classify_status("In_Progress", Dialect{}) == VideoStatus::in_progress);
    CHECK(classify_status("Not_Start", Dialect{}) == VideoStatus::queued);
    CHECK(classify_status(" Succeeded ", Dialect{}) == VideoStatus::completed);
    CHECK(classify_status("CANCELED", Dialect{}) == VideoStatus::cancelled);
}

TEST_CASE("an unknown status word is unknown", "[protocol]") {
    CHECK(classify_status("paused", Dialect{}) == VideoStatus::unknown);
    CHECK(classify_status("", Dialect{}) == VideoStatus::unknown);
    CHECK(classify_status("in progress", Dialect{}) == VideoStatus::unknown);
}

TEST_CASE("dialect extra words extend the table, in any case", "[protocol]") {
    Dialect d;
    d.queued_words = {"Waiting"};
    d.running_words = {"rendering"};
    d.completed_words = {"DONE"};
    d.failed_words = {"rejected"};
    CHECK(classify_status("waiting", d) == VideoStatus::queued);
    CHECK(classify_status("Rendering", d) == VideoStatus::in_progress);
    CHECK(classify_status("done", d) == VideoStatus::completed);
    CHECK(classify_status("REJECTED", d) == VideoStatus::failed);
    CHECK(classify_status("queued", d) == VideoStatus::queued);
}

TEST_CASE("dialect extra words take precedence over the built-in table", "[protocol]") {
    Dialect d;
    d.completed_words = {"created"};  // a gateway that says "created" when the video exists
    d.running_words = {"error"};      // and one that retries internally on "error"
    CHECK(classify_status("created", d) == VideoStatus::completed);
    CHECK(classify_status("error", d) == VideoStatus::in_progress);
}

TEST_CASE("status names for logs", "[protocol]") {
    CHECK(to_string(VideoStatus::queued) == "queued");
    CHECK(to_string(VideoStatus::in_progress) == "in_progress");
    CHECK(to_string(VideoStatus::completed) == "completed");
    CHECK(to_string(VideoStatus::failed) == "failed");
    CHECK(to_string(VideoStatus::cancelled) == "cancelled");
    CHECK(to_string(VideoStatus::unknown) == "unknown");
}

// ---- create ----

TEST_CASE("default dialect creates with multipart, seconds as text and a size field",
          "[protocol]") {
    auto r = build_create(provider(), cat_job(), 2);
    CHECK(r.method == "POST");
    CHECK(r.url == "http://127.0.0.1:8089/v1/videos");
    CHECK(r.provider == "acme");
    CHECK(r.key_slot == 2);
    CHECK(r.authenticated);
    CHECK(r.body.empty());
    REQUIRE(r.form.size() == 4);
    CHECK(part(r, "prompt")->value == "a cat plays the piano");
    CHECK(part(r, "model")->value == "sora-2");
    CHECK(part(r, "seconds")->value == "8");
    CHECK(part(r, "size")->value == "1280x720");
    for (const auto& f : r.form)
        CHECK(f.file_path.empty());
    // The shell sets multipart's Content-Type with its boundary; credentials are never here.
    CHECK_FALSE(header(r, "Content-Type"));
    CHECK_FALSE(header(r, "Authorization"));
}

TEST_CASE("a base_url with a trailing slash gives no double slash", "[protocol]") {
    auto p = provider();
    p.base_url = "https://api.example.com/v1/";
    CHECK(build_create(p, cat_job(), 0).url == "https://api.example.com/v1/videos");
    CHECK(build_models(p, 0).url == "https://api.example.com/v1/models");
    CHECK(build_retrieve(p, "v1", 0).url == "https://api.example.com/v1/videos/v1");
}

TEST_CASE("JSON encoding sends the duration in the dialect's field and type", "[protocol]") {
    struct Row {
        DurationField field;
        const char* key;
        json value;
    };
    const Row rows[] = {
        {DurationField::seconds_string, "seconds", "8"},
        {DurationField::seconds_int, "seconds", 8},
        {DurationField::duration_int, "duration", 8},
    };
    for (const auto& row : rows) {
        INFO(row.key << " " << row.value.dump());
        Dialect d = with_encoding(CreateEncoding::json);
        d.duration = row.field;
        auto r = build_create(provider(d), cat_job(), 0);
        CHECK(r.form.empty());
        CHECK(header(r, "Content-Type") == "application/json");
        auto body = json::parse(r.body);
        CHECK(body[row.key] == row.value);
        CHECK(body[row.key].is_string() == row.value.is_string());
        CHECK(body.size() == 4);  // prompt, model, the duration, size
        CHECK(body["prompt"] == "a cat plays the piano");
        CHECK(body["model"] == "sora-2");
        CHECK(body["size"] == "1280x720");
    }
}

TEST_CASE("multipart sends the duration as text under the dialect's name", "[protocol]") {
    Dialect d;
    d.duration = DurationField::seconds_int;
    CHECK(part(build_create(provider(d), cat_job(), 0), "seconds")->value == "8");
    d.duration = DurationField::duration_int;
    auto r = build_create(provider(d), cat_job(), 0);
    CHECK(part(r, "duration")->value == "8");
    CHECK_FALSE(part(r, "seconds"));
}

TEST_CASE("width_height dialect sends integer width and height instead of size", "[protocol]") {
    Dialect d = with_encoding(CreateEncoding::json);
    d.size = SizeField::width_height;
    auto body = json::parse(build_create(provider(d), cat_job(), 0).body);
    CHECK(body["width"] == 1280);
    CHECK(body["height"] == 720);
    CHECK_FALSE(body.contains("size"));

    d.encoding = CreateEncoding::multipart;
    auto r = build_create(provider(d), cat_job(), 0);
    CHECK(part(r, "width")->value == "1280");
    CHECK(part(r, "height")->value == "720");
    CHECK_FALSE(part(r, "size"));
}

TEST_CASE("a reference image is the file part input_reference typed by its extension",
          "[protocol]") {
    struct Row {
        const char* path;
        const char* type;
    };
    const Row rows[] = {
        {"/state/job1/cat.png", "image/png"},
        {"/state/job1/cat.jpg", "image/jpeg"},
        {"/state/job1/cat.JPEG", "image/jpeg"},
        {"/state/job1/cat.webp", "image/webp"},
        {"/state/job1/cat.bin", "application/octet-stream"},
    };
    for (const auto& row : rows) {
        INFO(row.path);
        auto job = cat_job();
        job.image = row.path;
        auto r = build_create(provider(), job, 0);
        const FormPart* f = part(r, "input_reference");
        REQUIRE(f);
        CHECK(f->file_path == row.path);
        CHECK(f->content_type == row.type);
        CHECK(f->value.empty());
        CHECK(r.form.size() == 5);
    }
}

TEST_CASE("JSON dialect with a reference image falls back to multipart", "[protocol]") {
    auto job = cat_job();
    job.image = "/state/job1/cat.png";
    auto r = build_create(provider(with_encoding(CreateEncoding::json)), job, 0);
    CHECK(r.body.empty());
    CHECK_FALSE(header(r, "Content-Type"));
    REQUIRE(part(r, "input_reference"));
    CHECK(part(r, "seconds")->value == "8");
}

TEST_CASE("auto encoding sends JSON without an image and multipart with one", "[protocol]") {
    auto p = provider(with_encoding(CreateEncoding::auto_));
    auto text_only = build_create(p, cat_job(), 0);
    CHECK(text_only.form.empty());
    CHECK(json::parse(text_only.body)["seconds"] == "8");

    auto job = cat_job();
    job.image = "/state/job1/cat.webp";
    auto with_image = build_create(p, job, 0);
    CHECK(with_image.body.empty());
    CHECK(part(with_image, "input_reference")->content_type == "image/webp");
}

TEST_CASE("a job without a model leaves the field out", "[protocol]") {
    auto job = cat_job();
    job.model.clear();
    CHECK_FALSE(part(build_create(provider(), job, 0), "model"));
    auto body =
        json::parse(build_create(provider(with_encoding(CreateEncoding::json)), job, 0).body);
    CHECK_FALSE(body.contains("model"));
}

TEST_CASE("remix posts only the prompt as JSON to the source video", "[protocol]") {
    auto job = cat_job();
    job.remix_of = "video_123";
    auto r = build_remix(provider(), job, 1);
    CHECK(r.method == "POST");
    CHECK(r.url == "http://127.0.0.1:8089/v1/videos/video_123/remix");
    CHECK(r.key_slot == 1);
    CHECK(header(r, "Content-Type") == "application/json");
    CHECK(json::parse(r.body) == json{{"prompt", "a cat plays the piano"}});
}

// ---- other requests and ids ----

TEST_CASE("every URL builder percent-encodes ids with : / + =", "[protocol]") {
    auto p = provider();
    const std::string base = "http://127.0.0.1:8089/v1/videos";
    const std::string enc = kOddIdEncoded;

    auto retrieve = build_retrieve(p, kOddId, 0);
    CHECK(retrieve.method == "GET");
    CHECK(retrieve.url == base + "/" + enc);

    auto content = build_content(p, kOddId, "video", 0);
    CHECK(content.method == "GET");
    CHECK(content.url == base + "/" + enc + "/content?variant=video");

    auto del = build_delete(p, kOddId, 0);
    CHECK(del.method == "DELETE");
    CHECK(del.url == base + "/" + enc);

    auto job = cat_job();
    job.remix_of = kOddId;
    CHECK(build_remix(p, job, 0).url == base + "/" + enc + "/remix");

    CHECK(build_list(p, 20, kOddId, 0).url == base + "?limit=20&order=desc&after=" + enc);
}

TEST_CASE("encode_path_segment keeps unreserved characters and escapes the rest", "[protocol]") {
    CHECK(encode_path_segment("video_68d7-512.d~Z9") == "video_68d7-512.d~Z9");
    CHECK(encode_path_segment(kOddId) == kOddIdEncoded);
    CHECK(encode_path_segment("a b?c#d&e%f") == "a%20b%3Fc%23d%26e%25f");
    CHECK(encode_path_segment("\xC3\xA9") == "%C3%A9");  // UTF-8 bytes each escaped
    CHECK(encode_path_segment("..") == "..");
    CHECK(encode_path_segment("") == "");
}

TEST_CASE("list asks newest first with a limit, and names after only when given", "[protocol]") {
    auto r = build_list(provider(), 100, "", 3);
    CHECK(r.method == "GET");
    CHECK(r.url == "http://127.0.0.1:8089/v1/videos?limit=100&order=desc");
    CHECK(r.key_slot == 3);
    CHECK(build_list(provider(), 1, "video_9", 0).url ==
          "http://127.0.0.1:8089/v1/videos?limit=1&order=desc&after=video_9");
}

TEST_CASE("content asks for the variant, the video when none is named", "[protocol]") {
    auto p = provider();
    CHECK(build_content(p, "v", "thumbnail", 0).url ==
          "http://127.0.0.1:8089/v1/videos/v/content?variant=thumbnail");
    CHECK(build_content(p, "v", "spritesheet", 0).url ==
          "http://127.0.0.1:8089/v1/videos/v/content?variant=spritesheet");
    CHECK(build_content(p, "v", "", 0).url ==
          "http://127.0.0.1:8089/v1/videos/v/content?variant=video");
    CHECK(build_content(p, "v", "video", 0).authenticated);
}

TEST_CASE("models is a plain authenticated GET", "[protocol]") {
    auto r = build_models(provider(), 0);
    CHECK(r.method == "GET");
    CHECK(r.url == "http://127.0.0.1:8089/v1/models");
    CHECK(r.authenticated);
    CHECK(r.body.empty());
    CHECK(r.form.empty());
}

// ---- parse_video ----

TEST_CASE("a minimal video of id and status parses with everything else empty", "[protocol]") {
    auto v = parsed(R"({"id":"video_1","status":"queued"})");
    CHECK(v.id == "video_1");
    CHECK(v.status_word == "queued");
    CHECK(v.status == VideoStatus::queued);
    CHECK_FALSE(v.progress);
    CHECK_FALSE(v.created_at);
    CHECK_FALSE(v.completed_at);
    CHECK_FALSE(v.expires_at);
    CHECK_FALSE(v.seconds);
    CHECK(v.model.empty());
    CHECK(v.size.empty());
    CHECK(v.prompt.empty());
    CHECK(v.remixed_from.empty());
    CHECK(v.result_url.empty());
    CHECK_FALSE(v.error);
}

TEST_CASE("a full OpenAI video object fills every field", "[protocol]") {
    auto v = parsed(R"({
        "id": "video_68d7", "object": "video", "model": "sora-2-pro", "status": "completed",
        "progress": 100, "created_at": 1795341600, "completed_at": 1795341720,
        "expires_at": 1795345320, "size": "1792x1024", "seconds": "12",
        "prompt": "a cat", "remixed_from_video_id": "video_1", "error": null})");
    CHECK(v.status == VideoStatus::completed);
    CHECK(v.progress == 100);
    CHECK(v.created_at == 1795341600);
    CHECK(v.completed_at == 1795341720);
    CHECK(v.expires_at == 1795345320);
    CHECK(v.model == "sora-2-pro");
    CHECK(v.size == "1792x1024");
    CHECK(v.seconds == 12);
    CHECK(v.prompt == "a cat");
    CHECK(v.remixed_from == "video_1");
    CHECK_FALSE(v.error);
}

TEST_CASE("unknown fields are kept in raw", "[protocol]") {
    auto v = parsed(R"({"id":"v","status":"queued","vendor":{"queue":7},"object":"video"})");
    CHECK(v.raw["vendor"]["queue"] == 7);
    CHECK(v.raw["object"] == "video");
    CHECK(v.raw["id"] == "v");
}

TEST_CASE("optional fields of the wrong type are ignored, not fatal", "[protocol]") {
    auto v = parsed(R"({"id":"v","status":"in_progress","progress":{"pct":3},
        "created_at":"yesterday","completed_at":[1],"model":5,"size":[1280,720],
        "seconds":true,"prompt":null,"remixed_from_video_id":7,"error":42,"url":3})");
    CHECK(v.status == VideoStatus::in_progress);
    CHECK_FALSE(v.progress);
    CHECK_FALSE(v.created_at);
    CHECK_FALSE(v.completed_at);
    CHECK(v.model.empty());
    CHECK(v.size.empty());
    CHECK_FALSE(v.seconds);
    CHECK(v.prompt.empty());
    CHECK(v.remixed_from.empty());
    CHECK_FALSE(v.error);
    CHECK(v.result_url.empty());
}

TEST_CASE("a numeric id is taken as its decimal string", "[protocol]") {
    CHECK(parsed(R"({"id":123456789012,"status":"queued"})").id == "123456789012");
    CHECK(parsed(R"({"id":18446744073709551615,"status":"queued"})").id == "18446744073709551615");
}

TEST_CASE("progress may be an integer, a float or a string, clamped to 0-100", "[protocol]") {
    struct Row {
        const char* value;
        int expected;
    };
    const Row rows[] = {{"42", 42},        {"42.9", 42},   {"99.99", 99}, {"\"42\"", 42},
                        {"\"42.5%\"", 42}, {"\" 7 \"", 7}, {"150", 100},  {"-3", 0}};
    for (const auto& row : rows) {
        INFO(row.value);
        auto v =
            parsed(std::string(R"({"id":"v","status":"running","progress":)") + row.value + "}");
        CHECK(v.progress == row.expected);
    }
    CHECK_FALSE(parsed(R"({"id":"v","status":"running","progress":"soon"})").progress);
}

TEST_CASE("seconds may be a string or a number, or come as duration", "[protocol]") {
    CHECK(parsed(R"({"id":"v","status":"queued","seconds":"8"})").seconds == 8);
    CHECK(parsed(R"({"id":"v","status":"queued","seconds":8})").seconds == 8);
    CHECK(parsed(R"({"id":"v","status":"queued","seconds":"8.0"})").seconds == 8);
    CHECK(parsed(R"({"id":"v","status":"queued","duration":10})").seconds == 10);
    CHECK(parsed(R"({"id":"v","status":"queued","seconds":"4","duration":10})").seconds == 4);
    CHECK_FALSE(parsed(R"({"id":"v","status":"queued","seconds":"eight"})").seconds);
}

TEST_CASE("timestamps in milliseconds are read as seconds", "[protocol]") {
    auto v = parsed(R"({"id":"v","status":"queued","created_at":1795341600123,
                        "expires_at":1795345320.5})");
    CHECK(v.created_at == 1795341600);
    CHECK(v.expires_at == 1795345320);
}

TEST_CASE("width and height give the size when size is absent", "[protocol]") {
    CHECK(parsed(R"({"id":"v","status":"queued","width":1280,"height":720})").size == "1280x720");
    CHECK(parsed(R"({"id":"v","status":"queued","size":"720x1280","width":1,"height":2})").size ==
          "720x1280");
}

TEST_CASE("a video wrapped in data is unwrapped", "[protocol]") {
    auto v = parsed(R"({"code":"success","message":"","data":{"id":"task_9","status":"SUCCESS",
                        "progress":"100%","video_url":"https://cdn.example/v.mp4"}})");
    CHECK(v.id == "task_9");
    CHECK(v.status == VideoStatus::completed);
    CHECK(v.progress == 100);
    CHECK(v.result_url == "https://cdn.example/v.mp4");
    CHECK(v.raw["id"] == "task_9");
}

TEST_CASE("a top-level id wins over a data object", "[protocol]") {
    auto v = parsed(R"({"id":"outer","status":"queued","data":{"id":"inner","status":"failed"}})");
    CHECK(v.id == "outer");
    CHECK(v.status == VideoStatus::queued);
}

TEST_CASE("parsing applies the dialect's status words", "[protocol]") {
    Dialect d;
    d.completed_words = {"done"};
    CHECK(parsed(R"({"id":"v","status":"Done"})", d).status == VideoStatus::completed);
    auto v = parsed(R"({"id":"v","status":"paused"})");
    CHECK(v.status == VideoStatus::unknown);
    CHECK(v.status_word == "paused");
}

TEST_CASE("HTML body with 200 is a parse error naming what arrived", "[protocol]") {
    auto v = parse_video(
        reply(200, "<!DOCTYPE html>\n<html><body>Not here</body></html>", "text/html"), Dialect{});
    REQUIRE_FALSE(v.has_value());
    CHECK_THAT(v.error().message, Catch::Contains("expected JSON, got text/html"));
    CHECK_THAT(v.error().message, Catch::Contains("first bytes: <!DOCTYPE html> <html>"));
}

TEST_CASE("a long non-JSON body is cut short in the message", "[protocol]") {
    auto v = parse_video(reply(200, std::string(5000, 'x'), "text/plain"), Dialect{});
    REQUIRE_FALSE(v.has_value());
    CHECK(v.error().message.size() < 200);
    CHECK_THAT(v.error().message, Catch::Contains("...)"));
}

TEST_CASE("non-ASCII bytes of a non-JSON body are masked in the message", "[protocol]") {
    // A UTF-8 sequence cut at the limit must not leak into a JSON error file.
    auto v =
        parse_video(reply(502, std::string(59, 'a') + "\xC3\xA9 caf\xE9", "text/html"), Dialect{});
    REQUIRE_FALSE(v.has_value());
    CHECK_THAT(v.error().message, Catch::Contains(std::string(59, 'a') + "?..."));
    CHECK(v.error().message.find('\xC3') == std::string::npos);
}

TEST_CASE("JSON content type with a garbage body is a parse error", "[protocol]") {
    auto v = parse_video(reply(200, "{\"id\": \"v\", \"status\": "), Dialect{});
    REQUIRE_FALSE(v.has_value());
    CHECK_THAT(v.error().message, Catch::Contains("invalid JSON"));
    CHECK_THAT(v.error().message, Catch::Contains("{\"id\""));
}

TEST_CASE("an empty JSON body is a parse error saying it was empty", "[protocol]") {
    auto v = parse_video(reply(200, ""), Dialect{});
    REQUIRE_FALSE(v.has_value());
    CHECK_THAT(v.error().message, Catch::Contains("empty body"));
}

TEST_CASE("content types: +json, parameters and none with a JSON-looking body", "[protocol]") {
    const char* body = R"({"id":"v","status":"queued"})";
    CHECK(parse_video(reply(200, body, "application/vnd.acme+json"), Dialect{}).has_value());
    CHECK(parse_video(reply(200, body, "Application/JSON; charset=utf-8"), Dialect{}).has_value());
    CHECK(parse_video(reply(200, std::string("  \n") + body, ""), Dialect{}).has_value());

    // Without a content type the header is consulted.
    auto from_header = reply(200, body, "", {{"content-type", "application/json"}});
    CHECK(parse_video(from_header, Dialect{}).has_value());

    auto plain = parse_video(reply(200, "OK", ""), Dialect{});
    REQUIRE_FALSE(plain.has_value());
    CHECK_THAT(plain.error().message, Catch::Contains("expected JSON, got no content type"));
}

TEST_CASE("a video without id or status is a parse error", "[protocol]") {
    auto no_id = parse_video(reply(200, R"({"status":"queued"})"), Dialect{});
    REQUIRE_FALSE(no_id.has_value());
    CHECK_THAT(no_id.error().message, Catch::Contains("without id"));

    auto no_status = parse_video(reply(200, R"({"id":"v1","status":5})"), Dialect{});
    REQUIRE_FALSE(no_status.has_value());
    CHECK_THAT(no_status.error().message, Catch::Contains("v1 has no status"));

    auto empty_id = parse_video(reply(200, R"({"id":"","status":"queued"})"), Dialect{});
    CHECK_FALSE(empty_id.has_value());

    auto array = parse_video(reply(200, R"([{"id":"v","status":"queued"}])"), Dialect{});
    REQUIRE_FALSE(array.has_value());
    CHECK_THAT(array.error().message, Catch::Contains("got array"));
}

TEST_CASE("an error body where a video was expected names the provider's words", "[protocol]") {
    auto v = parse_video(reply(200, R"({"code":"get_channel_failed","message":"no channel"})"),
                         Dialect{});
    REQUIRE_FALSE(v.has_value());
    CHECK_THAT(v.error().message, Catch::Contains("get_channel_failed: no channel"));
}

TEST_CASE("the result URL is found in each place a dialect puts it", "[protocol]") {
    const char* rows[] = {
        R"({"url":"https://cdn/x.mp4"})",
        R"({"video_url":"https://cdn/x.mp4"})",
        R"({"metadata":{"url":"https://cdn/x.mp4"}})",
        R"({"outputs":{"video_url":"https://cdn/x.mp4"}})",
        R"({"output":{"videos":[{"url":"https://cdn/x.mp4"},{"url":"https://cdn/y.mp4"}]}})",
        R"({"urls":["https://cdn/x.mp4","https://cdn/y.mp4"]})",
        R"({"url":"","video_url":"https://cdn/x.mp4"})",
        R"({"url":null,"metadata":{"url":"https://cdn/x.mp4"}})",
        R"({"metadata":"x","urls":["https://cdn/x.mp4"]})",
    };
    for (const char* row : rows) {
        INFO(row);
        auto j = json::parse(row);
        j["id"] = "v";
        j["status"] = "completed";
        CHECK(parsed(j.dump()).result_url == "https://cdn/x.mp4");
    }
    CHECK(parsed(R"({"id":"v","status":"completed","urls":[],"output":{"videos":[]}})")
              .result_url.empty());
}

TEST_CASE("a failed video carries its error as an object or a plain string", "[protocol]") {
    auto v = parsed(R"({"id":"v","status":"failed","error":{"code":"moderation_blocked",
        "message":"Your request was blocked.","type":"invalid_request_error","param":"prompt"}})");
    REQUIRE(v.error);
    CHECK(v.error->code == "moderation_blocked");
    CHECK(v.error->message == "Your request was blocked.");
    CHECK(v.error->type == "invalid_request_error");
    CHECK(v.error->param == "prompt");
    CHECK(v.error->raw["code"] == "moderation_blocked");

    auto s = parsed(R"({"id":"v","status":"failed","error":"upstream timeout"})");
    REQUIRE(s.error);
    CHECK(s.error->message == "upstream timeout");
    CHECK(s.error->code.empty());

    auto numeric = parsed(R"({"id":"v","status":"failed","error":{"code":500,"message":"x"}})");
    CHECK(numeric.error->code == "500");

    CHECK_FALSE(parsed(R"({"id":"v","status":"failed","error":{}})").error);
    CHECK_FALSE(parsed(R"({"id":"v","status":"failed","error":""})").error);
}

// ---- parse_list ----

TEST_CASE("a list page parses its videos, has_more and last_id", "[protocol]") {
    auto l = parse_list(reply(200, R"({"object":"list","data":[
        {"id":"v3","status":"queued","prompt":"a"},{"id":"v2","status":"completed"}],
        "first_id":"v3","last_id":"v2","has_more":true})"),
                        Dialect{});
    REQUIRE(l.has_value());
    REQUIRE(l->data.size() == 2);
    CHECK(l->data[0].id == "v3");
    CHECK(l->data[0].prompt == "a");
    CHECK(l->data[1].status == VideoStatus::completed);
    CHECK(l->has_more);
    CHECK(l->last_id == "v2");
}

TEST_CASE("list items that fail to parse are skipped, pagination goes on", "[protocol]") {
    auto l = parse_list(reply(200, R"({"data":[{"id":"v3","status":"queued"},"junk",
        {"status":"queued"},{"id":"v1"}],"has_more":"yes"})"),
                        Dialect{});
    REQUIRE(l.has_value());
    REQUIRE(l->data.size() == 1);
    CHECK(l->data[0].id == "v3");
    CHECK_FALSE(l->has_more);   // not a boolean: ignored
    CHECK(l->last_id == "v1");  // no last_id: the last item's id, parsed or not
}

TEST_CASE("an empty list and a bare array both parse", "[protocol]") {
    auto empty =
        parse_list(reply(200, R"({"object":"list","data":[],"has_more":false})"), Dialect{});
    REQUIRE(empty.has_value());
    CHECK(empty->data.empty());
    CHECK(empty->last_id.empty());

    auto bare = parse_list(reply(200, R"([{"id":"v1","status":"queued"}])"), Dialect{});
    REQUIRE(bare.has_value());
    CHECK(bare->data.size() == 1);
}

TEST_CASE("a list without data, or not JSON, is a parse error", "[protocol]") {
    auto no_data = parse_list(reply(200, R"({"object":"list"})"), Dialect{});
    REQUIRE_FALSE(no_data.has_value());
    CHECK_THAT(no_data.error().message, Catch::Contains("data"));

    auto error = parse_list(reply(200, R"({"error":{"message":"bad key"}})"), Dialect{});
    REQUIRE_FALSE(error.has_value());
    CHECK_THAT(error.error().message, Catch::Contains("bad key"));

    CHECK_FALSE(parse_list(reply(200, "<html>", "text/html"), Dialect{}).has_value());
}

// ---- parse_error ----

TEST_CASE("parse_error reads the OpenAI error object", "[protocol]") {
    auto e = parse_error(reply(400, R"({"error":{"message":"Invalid value: '9'.",
        "type":"invalid_request_error","param":"seconds","code":"invalid_value"}})"));
    REQUIRE(e);
    CHECK(e->code == "invalid_value");
    CHECK(e->message == "Invalid value: '9'.");
    CHECK(e->type == "invalid_request_error");
    CHECK(e->param == "seconds");
    CHECK(e->raw["param"] == "seconds");
}

TEST_CASE("parse_error reads new-api's top-level code and message", "[protocol]") {
    auto e = parse_error(
        reply(500, R"({"code":"fail_to_fetch_task","message":"upstream","data":null})"));
    REQUIRE(e);
    CHECK(e->code == "fail_to_fetch_task");
    CHECK(e->message == "upstream");
    CHECK(e->raw["data"].is_null());

    auto numeric = parse_error(reply(429, R"({"code":429,"message":"too many"})"));
    REQUIRE(numeric);
    CHECK(numeric->code == "429");

    auto message_only = parse_error(reply(404, R"({"message":"Not Found"})"));
    REQUIRE(message_only);
    CHECK(message_only->message == "Not Found");
}

TEST_CASE("parse_error reads an error given as plain text", "[protocol]") {
    auto e = parse_error(reply(400, R"({"error":"prompt too long"})"));
    REQUIRE(e);
    CHECK(e->message == "prompt too long");
    CHECK(e->code.empty());
}

TEST_CASE("parse_error tolerates a wrong content type on a JSON error body", "[protocol]") {
    auto e =
        parse_error(reply(502, R"({"error":{"code":"bad_gateway","message":"x"}})", "text/plain"));
    REQUIRE(e);
    CHECK(e->code == "bad_gateway");
}

TEST_CASE("parse_error is nullopt when the body holds no error", "[protocol]") {
    CHECK_FALSE(parse_error(reply(200, R"({"id":"v","status":"queued"})")));
    CHECK_FALSE(parse_error(reply(200, R"({"code":"success","message":"","data":{}})")));
    CHECK_FALSE(parse_error(reply(200, R"({"code":0,"message":"ok"})")));
    CHECK_FALSE(parse_error(reply(400, R"({"error":null})")));
    CHECK_FALSE(parse_error(reply(502, "<html>Bad Gateway</html>", "text/html")));
    CHECK_FALSE(parse_error(reply(500, "")));
    CHECK_FALSE(parse_error(reply(500, "{not json")));
    CHECK_FALSE(parse_error(reply(500, "[1,2]")));
}

// ---- classify ----

namespace {

const TimePoint kNow = from_ms(1795341600'000);

HttpResult transport(TransportError e) {
    HttpResult r;
    r.transport = e;
    r.transport_message = "Operation timed out";
    return r;
}

HttpResult status_only(int status, std::vector<std::pair<std::string, std::string>> headers = {}) {
    return reply(status, "", "", std::move(headers));
}

HttpResult openai_error(int status, const std::string& code,
                        std::vector<std::pair<std::string, std::string>> headers = {}) {
    json body = {
        {"error", {{"message", "words"}, {"type", "x"}, {"param", nullptr}, {"code", code}}}};
    return reply(status, body.dump(), "application/json", std::move(headers));
}

}  // namespace

TEST_CASE("2xx responses classify as ok", "[protocol]") {
    for (int s : {200, 201, 202, 204, 206}) {
        INFO(s);
        auto c = classify(status_only(s), true, kNow);
        CHECK(c.cls == ErrorClass::ok);
        CHECK(c.code.empty());
        CHECK_FALSE(c.error);
    }
}

TEST_CASE("a request that never went out is retryable, even a create", "[protocol]") {
    for (bool create : {true, false}) {
        auto c = classify(transport(TransportError::not_sent), create, kNow);
        CHECK(c.cls == ErrorClass::retryable);
        CHECK(c.code == "transport_not_sent");
    }
}

TEST_CASE("a create lost after sending is ambiguous; anything else is retryable", "[protocol]") {
    auto create = classify(transport(TransportError::after_send), true, kNow);
    CHECK(create.cls == ErrorClass::ambiguous);
    CHECK(create.code == "transport_after_send");
    auto poll = classify(transport(TransportError::after_send), false, kNow);
    CHECK(poll.cls == ErrorClass::retryable);
    CHECK(poll.code == "transport_after_send");
}

TEST_CASE("HTTP statuses map to their error classes", "[protocol]") {
    struct Row {
        int status;
        ErrorClass create;
        ErrorClass other;
    };
    const Row rows[] = {
        {400, ErrorClass::terminal, ErrorClass::terminal},
        {404, ErrorClass::terminal, ErrorClass::terminal},
        {422, ErrorClass::terminal, ErrorClass::terminal},
        {413, ErrorClass::terminal, ErrorClass::terminal},
        {401, ErrorClass::provider_fatal, ErrorClass::provider_fatal},
        {403, ErrorClass::provider_fatal, ErrorClass::provider_fatal},
        {408, ErrorClass::retryable, ErrorClass::retryable},
        {409, ErrorClass::retryable, ErrorClass::retryable},
        {429, ErrorClass::retryable, ErrorClass::retryable},
        {500, ErrorClass::ambiguous, ErrorClass::retryable},
        {502, ErrorClass::ambiguous, ErrorClass::retryable},
        {503, ErrorClass::ambiguous, ErrorClass::retryable},
        {504, ErrorClass::ambiguous, ErrorClass::retryable},
    };
    for (const auto& row : rows) {
        INFO(row.status);
        auto create = classify(status_only(row.status), true, kNow);
        CHECK(create.cls == row.create);
        CHECK(create.code == "http_" + std::to_string(row.status));
        CHECK(classify(status_only(row.status), false, kNow).cls == row.other);
    }
}

TEST_CASE("the provider's error code becomes the code and the error is kept", "[protocol]") {
    auto c = classify(openai_error(400, "moderation_blocked"), true, kNow);
    CHECK(c.cls == ErrorClass::terminal);
    CHECK(c.code == "moderation_blocked");
    REQUIRE(c.error);
    CHECK(c.error->message == "words");
    CHECK(classify(openai_error(400, "sentinel_block"), true, kNow).cls == ErrorClass::terminal);
    CHECK(classify(openai_error(404, "model_not_found"), false, kNow).code == "model_not_found");
}

TEST_CASE("an exhausted quota or bad key pauses the provider whatever the status", "[protocol]") {
    CHECK(classify(openai_error(429, "insufficient_quota"), true, kNow).cls ==
          ErrorClass::provider_fatal);
    CHECK(classify(openai_error(400, "billing_hard_limit_reached"), true, kNow).cls ==
          ErrorClass::provider_fatal);
    CHECK(classify(openai_error(400, "invalid_api_key"), false, kNow).cls ==
          ErrorClass::provider_fatal);
    auto plain_429 = classify(openai_error(429, "rate_limit_exceeded"), true, kNow);
    CHECK(plain_429.cls == ErrorClass::retryable);
    CHECK(plain_429.code == "rate_limit_exceeded");
}

TEST_CASE("x-should-retry overrides retryability of 4xx and 5xx", "[protocol]") {
    CHECK(classify(status_only(400, {{"x-should-retry", "true"}}), false, kNow).cls ==
          ErrorClass::retryable);
    CHECK(classify(status_only(400, {{"x-should-retry", "true"}}), true, kNow).cls ==
          ErrorClass::retryable);
    CHECK(classify(status_only(503, {{"x-should-retry", "false"}}), false, kNow).cls ==
          ErrorClass::terminal);
    CHECK(classify(status_only(429, {{"x-should-retry", "false"}}), true, kNow).cls ==
          ErrorClass::terminal);
    // A create that reached a failing server may have made a video: still reconcile first.
    CHECK(classify(status_only(500, {{"x-should-retry", "true"}}), true, kNow).cls ==
          ErrorClass::ambiguous);
    CHECK(classify(status_only(500, {{"x-should-retry", "TRUE "}}), false, kNow).cls ==
          ErrorClass::retryable);
    // Credentials stay the provider's problem: the header does not fail or retry the job.
    CHECK(classify(status_only(401, {{"x-should-retry", "false"}}), true, kNow).cls ==
          ErrorClass::provider_fatal);
    CHECK(classify(status_only(403, {{"x-should-retry", "true"}}), true, kNow).cls ==
          ErrorClass::provider_fatal);
    // Anything else in the header changes nothing.
    CHECK(classify(status_only(400, {{"x-should-retry", "maybe"}}), true, kNow).cls ==
          ErrorClass::terminal);
}

TEST_CASE("retry-after-ms wins over retry-after", "[protocol]") {
    auto c = classify(status_only(429, {{"retry-after", "30"}, {"retry-after-ms", "1250.4"}}), true,
                      kNow);
    CHECK(c.cls == ErrorClass::retryable);
    CHECK(c.retry_after == Millis{1250});
}

TEST_CASE("retry-after in seconds, whole or fractional", "[protocol]") {
    CHECK(classify(status_only(429, {{"retry-after", "3"}}), true, kNow).retry_after ==
          Millis{3000});
    CHECK(classify(status_only(503, {{"retry-after", " 1.5 "}}), false, kNow).retry_after ==
          Millis{1500});
    CHECK(classify(status_only(503, {{"retry-after", "0"}}), false, kNow).retry_after == Millis{0});
}

TEST_CASE("retry-after as an HTTP date is the delay from now, never negative", "[protocol]") {
    // Sun, 06 Nov 1994 08:49:37 GMT is 784111777 s after the epoch.
    const TimePoint then = from_ms(784111777'000);
    auto h = std::vector<std::pair<std::string, std::string>>{
        {"retry-after", "Sun, 06 Nov 1994 08:49:37 GMT"}};
    CHECK(classify(status_only(429, h), true, then - Millis{30'000}).retry_after == Millis{30'000});
    CHECK(classify(status_only(429, h), true, then + Millis{5'000}).retry_after == Millis{0});

    // A leap day: Thu, 29 Feb 2024 00:00:00 GMT is 1709164800 s.
    auto leap = std::vector<std::pair<std::string, std::string>>{
        {"retry-after", "Thu, 29 Feb 2024 00:00:00 GMT"}};
    CHECK(classify(status_only(503, leap), false, from_ms(1709164800'000 - 1'500)).retry_after ==
          Millis{1'500});
}

TEST_CASE("unreadable retry-after headers give no delay", "[protocol]") {
    for (const char* value :
         {"soon", "-5", "Sun, 06 Nov 1994 08:49:37 PST", "Sunday, 06-Nov-94 08:49:37 GMT",
          "Sun, 06 Foo 1994 08:49:37 GMT", "Sun, 06 Nov 1994 25:49:37 GMT",
          "Sun, 30 Feb 2025 08:49:37 GMT", "Sun, 06 Nov 1994 -1:49:37 GMT", ""}) {
        INFO(value);
        CHECK_FALSE(classify(status_only(429, {{"retry-after", value}}), true, kNow).retry_after);
    }
    // A bad retry-after-ms falls back to retry-after.
    CHECK(classify(status_only(429, {{"retry-after-ms", "x"}, {"retry-after", "2"}}), true, kNow)
              .retry_after == Millis{2000});
    CHECK_FALSE(classify(status_only(429), true, kNow).retry_after);
}

TEST_CASE("a response with no status is treated as lost after sending", "[protocol]") {
    CHECK(classify(status_only(0), true, kNow).cls == ErrorClass::ambiguous);
    CHECK(classify(status_only(0), false, kNow).cls == ErrorClass::retryable);
}

// ---- matches_job ----

namespace {

const TimePoint kSent = from_ms(1795341600'000);
const Millis kWindow{10 * 60 * 1000};

Video listed(int64_t created_offset_s = 2) {
    Video v;
    v.id = "video_7";
    v.status_word = "queued";
    v.status = VideoStatus::queued;
    v.prompt = "a cat plays the piano";
    v.model = "sora-2";
    v.size = "1280x720";
    v.seconds = 8;
    v.created_at = 1795341600 + created_offset_s;
    return v;
}

}  // namespace

TEST_CASE("a listed video with the same request made just after the send matches", "[protocol]") {
    CHECK(matches_job(listed(), cat_job(), kSent, kWindow));
}

TEST_CASE("a listed video with a different prompt, model, size or seconds does not match",
          "[protocol]") {
    auto v = listed();
    v.prompt = "a dog plays the piano";
    CHECK_FALSE(matches_job(v, cat_job(), kSent, kWindow));
    v = listed();
    v.model = "sora-2-pro";
    CHECK_FALSE(matches_job(v, cat_job(), kSent, kWindow));
    v = listed();
    v.size = "720x1280";
    CHECK_FALSE(matches_job(v, cat_job(), kSent, kWindow));
    v = listed();
    v.size = "720p";
    CHECK_FALSE(matches_job(v, cat_job(), kSent, kWindow));
    v = listed();
    v.seconds = 4;
    CHECK_FALSE(matches_job(v, cat_job(), kSent, kWindow));
}

TEST_CASE("fields the listed video leaves out are not held against it", "[protocol]") {
    auto v = listed();
    v.prompt.clear();
    v.model.clear();
    v.size.clear();
    v.seconds.reset();
    CHECK(matches_job(v, cat_job(), kSent, kWindow));
}

TEST_CASE("sizes are compared as sizes, not as text", "[protocol]") {
    for (const char* s : {"1280X720", "1280*720", " 1280 x 720"}) {
        INFO(s);
        auto v = listed();
        v.size = s;
        CHECK(matches_job(v, cat_job(), kSent, kWindow));
    }
}

TEST_CASE("creation time must fall within a minute before the send and the window after",
          "[protocol]") {
    CHECK(matches_job(listed(-60), cat_job(), kSent, kWindow));
    CHECK_FALSE(matches_job(listed(-61), cat_job(), kSent, kWindow));
    CHECK(matches_job(listed(600), cat_job(), kSent, kWindow));
    CHECK_FALSE(matches_job(listed(601), cat_job(), kSent, kWindow));
    auto v = listed();
    v.created_at.reset();
    CHECK_FALSE(matches_job(v, cat_job(), kSent, kWindow));
}

TEST_CASE("a failed listed video still matches so the job can fail with it", "[protocol]") {
    auto v = listed();
    v.status = VideoStatus::failed;
    v.status_word = "failed";
    CHECK(matches_job(v, cat_job(), kSent, kWindow));
}

TEST_CASE("a remix matches only a video remixed from the same source", "[protocol]") {
    auto job = cat_job();
    job.remix_of = "video_1";
    auto v = listed();
    v.remixed_from = "video_1";
    CHECK(matches_job(v, job, kSent, kWindow));
    v.remixed_from = "video_2";
    CHECK_FALSE(matches_job(v, job, kSent, kWindow));
    CHECK_FALSE(matches_job(v, cat_job(), kSent, kWindow));
}
