// The dialect keys a provider profile sets: how size and image go out, where the result link
// is, a named place to poll, and the cost the provider reports.
#include <catch2/catch.hpp>

#include "pipeline/openai_videos/openai_videos.hpp"

using namespace vd;
using namespace vd::openai_videos;
using nlohmann::json;

namespace {

ProviderSettings provider(Dialect d) {
    ProviderSettings p;
    p.name = "gw";
    p.base_url = "https://gw.example/api/v1";
    p.dialect = std::move(d);
    return p;
}

JobSpec job(Size size, std::string image = "") {
    JobSpec j;
    j.name = "reef";
    j.model = "m";
    j.seconds = 8;
    j.size = size;
    j.prompt = "a coral reef";
    j.image = std::move(image);
    return j;
}

Dialect json_dialect() {
    Dialect d;
    d.encoding = CreateEncoding::json;
    return d;
}

protocol::Video parsed(const std::string& body, const Dialect& d = {}) {
    HttpResult r;
    r.status = 200;
    r.body = body;
    r.content_type = "application/json";
    auto v = parse_video(r, d);
    INFO(body);
    REQUIRE(v.has_value());
    return *v;
}

}  // namespace

TEST_CASE("size as aspect_ratio and resolution: the ratio in lowest terms, the short side",
          "[protocol][dialect]") {
    Dialect d = json_dialect();
    d.size = SizeField::aspect_resolution;
    struct Row {
        Size size;
        const char* aspect;
        const char* resolution;
    } rows[] = {{{1280, 720}, "16:9", "720p"},
                {{720, 1280}, "9:16", "720p"},
                {{1792, 1024}, "7:4", "1024p"},
                {{1920, 1080}, "16:9", "1080p"},
                {{1024, 1024}, "1:1", "1024p"}};
    for (const auto& row : rows) {
        auto body = json::parse(build_create(provider(d), job(row.size), 0).body);
        CHECK(body["aspect_ratio"] == row.aspect);
        CHECK(body["resolution"] == row.resolution);
        CHECK_FALSE(body.contains("size"));
    }
    d.encoding = CreateEncoding::multipart;
    auto form = build_create(provider(d), job({1280, 720}), 0).form;
    std::vector<std::string> names;
    for (const auto& f : form)
        names.push_back(f.name);
    CHECK(names ==
          std::vector<std::string>{"prompt", "model", "seconds", "aspect_ratio", "resolution"});
}

TEST_CASE("an image as a data: URL goes in a JSON body, embedded by the shell at a pointer",
          "[protocol][dialect]") {
    Dialect d;  // multipart by default: a data: URL still makes the create JSON
    d.image = ImageField::data_url;
    d.image_field = "image_url";
    auto r = build_create(provider(d), job({1280, 720}, "/state/j/reef.png"), 0);
    CHECK(r.form.empty());
    auto body = json::parse(r.body);
    CHECK(body["image_url"] == "");
    CHECK(body["prompt"] == "a coral reef");
    REQUIRE(r.embed.size() == 1);
    CHECK(r.embed[0].pointer == "/image_url");
    CHECK(r.embed[0].file_path == "/state/j/reef.png");
    CHECK(r.embed[0].content_type == "image/png");

    d.image_field = "input_reference.image_url";  // the reference protocol's JSON shape
    r = build_create(provider(d), job({1280, 720}, "/state/j/reef.jpg"), 0);
    CHECK(json::parse(r.body)["input_reference"]["image_url"] == "");
    CHECK(r.embed.at(0).pointer == "/input_reference/image_url");
    CHECK(r.embed.at(0).content_type == "image/jpeg");

    // Without an image nothing is embedded, and the dialect's encoding decides.
    r = build_create(provider(d), job({1280, 720}), 0);
    CHECK(r.embed.empty());
    CHECK_FALSE(r.form.empty());
}

TEST_CASE("an image as the first of frame_images", "[protocol][dialect]") {
    Dialect d = json_dialect();
    d.image = ImageField::frame_images;
    d.image_field = "frame_images";
    auto r = build_create(provider(d), job({1280, 720}, "/state/j/reef.webp"), 0);
    auto frames = json::parse(r.body)["frame_images"];
    REQUIRE(frames.is_array());
    REQUIRE(frames.size() == 1);
    CHECK(frames[0]["type"] == "image_url");
    CHECK(frames[0]["frame_type"] == "first_frame");
    REQUIRE(r.embed.size() == 1);
    CHECK(r.embed[0].pointer == "/frame_images/0/image_url/url");
    CHECK(r.embed[0].content_type == "image/webp");
}

TEST_CASE("a file image keeps multipart whatever the encoding, in the dialect's field",
          "[protocol][dialect]") {
    Dialect d = json_dialect();
    d.image_field = "image";
    auto r = build_create(provider(d), job({1280, 720}, "/state/j/reef.png"), 0);
    CHECK(r.body.empty());
    CHECK(r.embed.empty());
    REQUIRE_FALSE(r.form.empty());
    CHECK(r.form.back().name == "image");
    CHECK(r.form.back().file_path == "/state/j/reef.png");
}

TEST_CASE("result_field names where the link is, and only there", "[protocol][dialect]") {
    Dialect d;
    d.result_field = "output.videos[1].url";
    auto v = parsed(R"({"id":"v","status":"completed","url":"https://api/other",
                        "output":{"videos":[{"url":"https://cdn/a.mp4"},{"url":"https://cdn/b.mp4"}]}})",
                    d);
    CHECK(v.result_url == "https://cdn/b.mp4");
    d.result_field = "urls[0]";
    CHECK(parsed(R"({"id":"v","status":"completed","urls":["https://cdn/x.mp4"]})", d).result_url ==
          "https://cdn/x.mp4");
    // Not where the dialect says: no link (the content endpoint is used), not a guess elsewhere.
    CHECK(parsed(R"({"id":"v","status":"completed","url":"https://api/x"})", d).result_url.empty());
    CHECK(parsed(R"({"id":"v","status":"completed","urls":"https://cdn/x.mp4"})", d)
              .result_url.empty());
    CHECK(parsed(R"({"id":"v","status":"completed","urls":[7]})", d).result_url.empty());
}

TEST_CASE("field paths: names, dots and indices, nothing else", "[protocol][dialect]") {
    auto steps = parse_field_path("output.videos[0].url");
    REQUIRE(steps);
    REQUIRE(steps->size() == 4);
    CHECK((*steps)[0].key == "output");
    CHECK((*steps)[2].is_index);
    CHECK((*steps)[2].index == 0);
    CHECK((*steps)[3].key == "url");
    CHECK(parse_field_path("urls[2]"));
    CHECK(parse_field_path("a[0][1]"));
    for (const char* bad : {"", ".", "a.", ".a", "a..b", "[0]", "a[", "a[]", "a[x]", "a[-1]", "a b",
                            "a/b", "a[0]b"}) {
        INFO(bad);
        CHECK_FALSE(parse_field_path(bad));
    }
}

TEST_CASE("polling_url and usage.cost are read from the video", "[protocol][dialect]") {
    auto v = parsed(R"({"id":"gen-1","status":"pending",
                        "polling_url":"https://gw.example/api/v1/videos/gen-1"})");
    CHECK(v.status == protocol::VideoStatus::queued);
    CHECK(v.poll_url == "https://gw.example/api/v1/videos/gen-1");
    CHECK_FALSE(v.cost_usd);
    v = parsed(R"({"id":"gen-1","status":"completed","usage":{"cost":0.5}})");
    REQUIRE(v.cost_usd);
    CHECK(*v.cost_usd == Approx(0.5));
    CHECK(*parsed(R"({"id":"g","status":"completed","usage":{"cost":"1.25"}})").cost_usd ==
          Approx(1.25));
    for (const char* odd : {R"({"id":"g","status":"completed","usage":{"cost":-1}})",
                            R"({"id":"g","status":"completed","usage":{"cost":"lots"}})",
                            R"({"id":"g","status":"completed","usage":7})"})
        CHECK_FALSE(parsed(odd).cost_usd);
}

TEST_CASE("a provider without a list says so", "[protocol][dialect]") {
    Dialect d;
    CHECK(openai_videos::protocol().lists(provider(d)));
    d.paths.list.clear();
    CHECK_FALSE(openai_videos::protocol().lists(provider(d)));
}

TEST_CASE("a content endpoint's JSON answer gives its link", "[protocol][dialect]") {
    auto answer = [](const std::string& body, const std::string& type = "application/json") {
        HttpResult r;
        r.status = 200;
        r.body = body;
        r.content_type = type;
        return r;
    };
    Dialect d;
    CHECK(parse_content_link(answer(R"({"url":"https://cdn/x.mp4"})"), d) == "https://cdn/x.mp4");
    CHECK(parse_content_link(answer(R"({"video_url":"https://cdn/y.mp4"})"), d) ==
          "https://cdn/y.mp4");
    CHECK(parse_content_link(answer(R"({"data":{"url":"https://cdn/z.mp4"}})"), d) ==
          "https://cdn/z.mp4");
    // A dialect's result_field first, the known places when the answer is not a video object.
    d.result_field = "urls[0]";
    CHECK(parse_content_link(answer(R"({"urls":["https://cdn/a.mp4"],"url":"https://b"})"), d) ==
          "https://cdn/a.mp4");
    CHECK(parse_content_link(answer(R"({"url":"https://cdn/b.mp4"})"), d) == "https://cdn/b.mp4");
    CHECK(parse_content_link(answer(R"({"error":{"message":"not ready"}})"), d).empty());
    CHECK(parse_content_link(answer("<html>", "text/html"), d).empty());
}
