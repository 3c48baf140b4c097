#include <chrono>
#include <thread>

#include <openssl/evp.h>

#include <catch2/catch.hpp>

#include "mock/media.hpp"
#include "tests/mock/fixture.hpp"
#include "tests/mock/mp4_probe.hpp"

using namespace vd;
using namespace vd::mock;
using namespace vd::mock::test;
using nlohmann::json;

namespace {

const json kTiny = {
    {"model", "tiny"}, {"prompt", "a red fox"}, {"seconds", "1"}, {"size", "160x90"}};

std::string code_of(const httplib::Result& r) {
    return body_json(r)["error"]["code"];
}

httplib::Result create_multipart(httplib::Client& c, const std::string& image, const char* size) {
    httplib::MultipartFormDataItems items = {
        {"model", "tiny", "", ""},
        {"prompt", "a fox from a picture", "", ""},
        {"seconds", "2", "", ""},
        {"size", size, "", ""},
        {"input_reference", image, "ref.png", "image/png"},
    };
    return c.Post("/v1/videos", items);
}

}  // namespace

TEST_CASE("JSON create answers a queued video object with every field of the spec", "[mock][api]") {
    auto o = tiny_options();
    o.queue_time = Millis{60000};
    RunningMock mock(o);
    auto c = mock.client();
    auto r = create_json(c, kTiny);
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->get_header_value("x-request-id").rfind("req_", 0) == 0);
    auto v = body_json(r);
    CHECK(v["id"].get<std::string>().rfind("video_", 0) == 0);
    CHECK(v["object"] == "video");
    CHECK(v["model"] == "tiny");
    CHECK(v["status"] == "queued");
    CHECK(v["progress"] == 0);
    CHECK(v["created_at"].is_number_integer());
    CHECK(v["completed_at"].is_null());
    CHECK(v["expires_at"].is_null());
    CHECK(v["prompt"] == "a red fox");
    CHECK(v["size"] == "160x90");
    CHECK(v["seconds"] == "1");
    CHECK(v["remixed_from_video_id"].is_null());
    CHECK(v["error"].is_null());
    CHECK(mock.server->videos_created() == 1);
}

TEST_CASE("create without model, seconds or size takes the documented defaults", "[mock][api]") {
    Options o;
    o.keys = {"k"};
    o.queue_time = Millis{60000};
    RunningMock mock(o);
    auto c = mock.client("k");
    auto v = body_json(create_json(c, {{"prompt", "defaults"}}));
    CHECK(v["model"] == "sora-2");
    CHECK(v["seconds"] == "4");
    CHECK(v["size"] == "720x1280");
}

TEST_CASE("multipart create with a matching reference image is accepted and logged with its hash",
          "[mock][api]") {
    RunningMock mock;
    auto c = mock.client();
    auto png = render_still("png", {160, 90});
    REQUIRE(png);
    auto r = create_multipart(c, *png, "160x90");
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(body_json(r)["seconds"] == "2");
    auto log = mock.server->requests();
    REQUIRE(log.size() == 1);
    CHECK(log[0].fields["prompt"] == "a fox from a picture");
    CHECK(log[0].fields["seconds"] == "2");
    REQUIRE(log[0].files.size() == 1);
    CHECK(log[0].files[0].name == "input_reference");
    CHECK(log[0].files[0].kind == "png");
    CHECK(log[0].files[0].width == 160);
    CHECK(log[0].files[0].height == 90);
    CHECK(log[0].files[0].bytes == static_cast<int64_t>(png->size()));
    CHECK(log[0].files[0].sha256.size() == 64);
}

TEST_CASE("reference image of another size is 400 with the reference's message", "[mock][api]") {
    RunningMock mock;
    auto c = mock.client();
    auto jpeg = render_still("mjpeg", {90, 160});
    REQUIRE(jpeg);
    auto r = create_multipart(c, *jpeg, "160x90");
    REQUIRE(r);
    CHECK(r->status == 400);
    auto e = body_json(r)["error"];
    CHECK(e["message"] == "Inpaint image must match the requested width and height");
    CHECK(e["param"] == "input_reference");
    CHECK(e["type"] == "invalid_request_error");
    CHECK(mock.server->videos_created() == 0);
}

TEST_CASE("reference that is not PNG, JPEG or WebP is rejected", "[mock][api]") {
    RunningMock mock;
    auto c = mock.client();
    auto r = create_multipart(c, "GIF89a not really", "160x90");
    REQUIRE(r);
    CHECK(r->status == 400);
    CHECK(code_of(r) == "invalid_value");
}

TEST_CASE("JSON create with a data: URL reference is checked like an upload", "[mock][api]") {
    RunningMock mock;
    auto c = mock.client();
    auto png = render_still("png", {160, 90});
    REQUIRE(png);
    std::string b64(4 * ((png->size() + 2) / 3), '\0');
    EVP_EncodeBlock(reinterpret_cast<unsigned char*>(b64.data()),
                    reinterpret_cast<const unsigned char*>(png->data()),
                    static_cast<int>(png->size()));
    auto body = kTiny;
    body["input_reference"] = {{"image_url", "data:image/png;base64," + b64}};
    auto ok = create_json(c, body);
    REQUIRE(ok);
    CHECK(ok->status == 200);
    body["size"] = "90x160";
    auto wrong = create_json(c, body);
    REQUIRE(wrong);
    CHECK(wrong->status == 400);
    auto log = mock.server->requests();
    REQUIRE(log.size() == 2);
    REQUIRE(log[0].files.size() == 1);
    CHECK(log[0].files[0].width == 160);
    // The log keeps a short form of the data URL, not megabytes of base64.
    CHECK(log[0].fields["input_reference"]["image_url"].get<std::string>().size() < 100);
}

TEST_CASE("seconds as a JSON integer is 400 invalid_type; in a form it is a string",
          "[mock][api]") {
    RunningMock mock;
    auto c = mock.client();
    auto body = kTiny;
    body["seconds"] = 1;
    auto r = create_json(c, body);
    REQUIRE(r);
    CHECK(r->status == 400);
    auto e = body_json(r)["error"];
    CHECK(e["code"] == "invalid_type");
    CHECK(e["param"] == "seconds");
    auto form = c.Post("/v1/videos", httplib::MultipartFormDataItems{{"model", "tiny", "", ""},
                                                                     {"prompt", "p", "", ""},
                                                                     {"seconds", "1", "", ""},
                                                                     {"size", "160x90", "", ""}});
    REQUIRE(form);
    CHECK(form->status == 200);
}

TEST_CASE("seconds and size outside the model's lists are 400 invalid_value", "[mock][api]") {
    RunningMock mock;
    auto c = mock.client();
    auto body = kTiny;
    body["seconds"] = "5";
    auto r = create_json(c, body);
    CHECK(r->status == 400);
    CHECK(body_json(r)["error"]["param"] == "seconds");
    CHECK(code_of(r) == "invalid_value");
    body = kTiny;
    body["size"] = "1280x720";
    r = create_json(c, body);
    CHECK(r->status == 400);
    CHECK(body_json(r)["error"]["param"] == "size");
}

TEST_CASE("unknown model is 404 model_not_found", "[mock][api]") {
    RunningMock mock;
    auto c = mock.client();
    auto body = kTiny;
    body["model"] = "sora-9";
    auto r = create_json(c, body);
    CHECK(r->status == 404);
    CHECK(code_of(r) == "model_not_found");
}

TEST_CASE("prompt missing, empty or over 32000 characters is rejected", "[mock][api]") {
    RunningMock mock;
    auto c = mock.client();
    auto body = kTiny;
    body.erase("prompt");
    CHECK(create_json(c, body)->status == 400);
    body["prompt"] = "";
    CHECK(create_json(c, body)->status == 400);
    body["prompt"] = std::string(32001, 'a');
    auto r = create_json(c, body);
    CHECK(r->status == 400);
    CHECK(code_of(r) == "string_above_max_length");
    body["prompt"] = std::string(32000, 'a');
    CHECK(create_json(c, body)->status == 200);
    body["extra"] = true;
    r = create_json(c, body);
    CHECK(r->status == 400);
    CHECK(code_of(r) == "unknown_parameter");
    auto bad = c.Post("/v1/videos", "{not json", "application/json");
    CHECK(bad->status == 400);
}

TEST_CASE("a wrong or missing key is 401 invalid_api_key and the key is never logged",
          "[mock][api]") {
    RunningMock mock;
    auto wrong = mock.client("sk-wrong-secret");
    auto r = create_json(wrong, kTiny);
    REQUIRE(r);
    CHECK(r->status == 401);
    CHECK(code_of(r) == "invalid_api_key");
    CHECK(r->body.find("sk-wrong-secret") == std::string::npos);
    auto none = mock.client("");
    CHECK(none.Get("/v1/models")->status == 401);
    auto log = mock.server->requests();
    REQUIRE(log.size() == 2);
    CHECK(log[0].key_hash.size() == 12);
    CHECK(log[0].key_hash.find("sk-") == std::string::npos);
    CHECK(log[1].key_hash.empty());
    CHECK(mock.server->videos_created() == 0);
}

TEST_CASE("with no keys configured any non-empty key is accepted", "[mock][api]") {
    auto o = tiny_options();
    o.keys.clear();
    RunningMock mock(o);
    auto c = mock.client("whatever");
    CHECK(c.Get("/v1/models")->status == 200);
}

TEST_CASE("status moves queued, in_progress with rising progress, then completed",
          "[mock][api][clock]") {
    auto o = tiny_options();
    o.queue_time = Millis{50};
    o.gen_time = Millis{200};
    RunningMock mock(o);
    auto c = mock.client();
    auto v = body_json(create_json(c, kTiny));
    std::string id = v["id"];
    CHECK(v["status"] == "queued");
    std::vector<std::string> seen;
    std::vector<int> progress;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (std::chrono::steady_clock::now() < deadline) {
        auto cur = body_json(c.Get("/v1/videos/" + id));
        std::string status = cur["status"];
        if (seen.empty() || seen.back() != status) seen.push_back(status);
        if (status == "in_progress") progress.push_back(cur["progress"]);
        if (status == "completed") {
            CHECK(cur["progress"] == 100);
            CHECK(cur["completed_at"].is_number_integer());
            CHECK(cur["expires_at"].get<int64_t>() == cur["completed_at"].get<int64_t>() + 3600);
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    CHECK(seen == std::vector<std::string>{"queued", "in_progress", "completed"});
    REQUIRE(progress.size() >= 2);
    CHECK(std::is_sorted(progress.begin(), progress.end()));
    CHECK(progress.front() < progress.back());
}

TEST_CASE("content of a completed video is an MP4 of its size and duration, with previews",
          "[mock][api][media]") {
    RunningMock mock;
    auto c = mock.client();
    auto body = kTiny;
    body["seconds"] = "2";
    auto v = body_json(create_json(c, body));
    std::string id = v["id"];
    auto r = c.Get("/v1/videos/" + id + "/content");
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->get_header_value("Content-Type") == "video/mp4");
    CHECK(r->get_header_value("x-request-id").size() > 4);
    auto info = probe_mp4(r->body);
    REQUIRE(info.opened);
    CHECK(info.video_codec == "h264");
    CHECK(info.width == 160);
    CHECK(info.height == 90);
    CHECK(info.duration == Approx(2.0).margin(0.05));
    auto thumb = c.Get("/v1/videos/" + id + "/content?variant=thumbnail");
    REQUIRE(thumb);
    CHECK(thumb->status == 200);
    CHECK(thumb->get_header_value("Content-Type") == "image/webp");
    CHECK(thumb->body.substr(0, 4) == "RIFF");
    auto sheet = c.Get("/v1/videos/" + id + "/content?variant=spritesheet");
    REQUIRE(sheet);
    CHECK(sheet->get_header_value("Content-Type") == "image/jpeg");
    CHECK(sheet->body.substr(0, 2) == "\xFF\xD8");
    CHECK(c.Get("/v1/videos/" + id + "/content?variant=poster")->status == 400);
}

TEST_CASE("content is 409 before completion and 404 once expired", "[mock][api][clock]") {
    auto o = tiny_options();
    o.queue_time = Millis{60000};
    RunningMock mock(o);
    auto c = mock.client();
    std::string slow_id = body_json(create_json(c, kTiny))["id"];
    auto early = c.Get("/v1/videos/" + slow_id + "/content");
    CHECK(early->status == 409);
    CHECK(code_of(early) == "video_not_ready");
    mock.server->update([](Options& opt) {
        opt.queue_time = Millis{0};
        opt.expire_after = Millis{50};
    });
    std::string id = body_json(create_json(c, kTiny))["id"];
    std::this_thread::sleep_for(std::chrono::milliseconds(80));
    auto late = c.Get("/v1/videos/" + id + "/content");
    CHECK(late->status == 404);
    CHECK(code_of(late) == "video_expired");
    CHECK(c.Get("/v1/videos/video_nope/content")->status == 404);
}

TEST_CASE("list pages newest first with limit, after and has_more", "[mock][api]") {
    RunningMock mock;
    auto c = mock.client();
    std::vector<std::string> ids;
    for (int i = 0; i < 5; ++i) {
        auto body = kTiny;
        body["prompt"] = "clip " + std::to_string(i);
        ids.push_back(body_json(create_json(c, body))["id"]);
    }
    auto page1 = body_json(c.Get("/v1/videos?limit=2"));
    CHECK(page1["object"] == "list");
    REQUIRE(page1["data"].size() == 2);
    CHECK(page1["data"][0]["id"] == ids[4]);
    CHECK(page1["data"][1]["id"] == ids[3]);
    CHECK(page1["first_id"] == ids[4]);
    CHECK(page1["last_id"] == ids[3]);
    CHECK(page1["has_more"] == true);
    auto page2 = body_json(c.Get("/v1/videos?limit=2&after=" + ids[3]));
    CHECK(page2["data"][0]["id"] == ids[2]);
    auto page3 = body_json(c.Get("/v1/videos?limit=2&after=" + ids[1]));
    REQUIRE(page3["data"].size() == 1);
    CHECK(page3["data"][0]["id"] == ids[0]);
    CHECK(page3["has_more"] == false);
    auto asc = body_json(c.Get("/v1/videos?order=asc"));
    REQUIRE(asc["data"].size() == 5);
    CHECK(asc["data"][0]["id"] == ids[0]);
    CHECK(asc["has_more"] == false);
    CHECK(c.Get("/v1/videos?limit=101")->status == 400);
    CHECK(c.Get("/v1/videos?order=up")->status == 400);
    auto empty = body_json(c.Get("/v1/videos?after=" + ids[0]));
    CHECK(empty["data"].empty());
    CHECK(empty["first_id"].is_null());
}

TEST_CASE("delete removes completed or failed videos only", "[mock][api]") {
    auto o = tiny_options();
    o.moderation_word = "forbidden";
    RunningMock mock(o);
    auto c = mock.client();
    std::string done = body_json(create_json(c, kTiny))["id"];
    auto blocked_body = kTiny;
    blocked_body["prompt"] = "something forbidden";
    std::string failed = body_json(create_json(c, blocked_body))["id"];
    mock.server->update([](Options& opt) { opt.queue_time = Millis{60000}; });
    std::string queued = body_json(create_json(c, kTiny))["id"];

    auto d = c.Delete("/v1/videos/" + done);
    REQUIRE(d);
    CHECK(d->status == 200);
    CHECK(body_json(d) == json{{"id", done}, {"object", "video.deleted"}, {"deleted", true}});
    CHECK(c.Get("/v1/videos/" + done)->status == 404);
    CHECK(c.Delete("/v1/videos/" + failed)->status == 200);
    auto q = c.Delete("/v1/videos/" + queued);
    CHECK(q->status == 400);
    CHECK(c.Get("/v1/videos/" + queued)->status == 200);
    CHECK(c.Delete("/v1/videos/" + done)->status == 404);
    auto all = body_json(c.Get("/v1/videos"));
    REQUIRE(all["data"].size() == 1);
    CHECK(all["data"][0]["id"] == queued);
}

TEST_CASE("remix makes a new video that names its source", "[mock][api]") {
    RunningMock mock;
    auto c = mock.client();
    std::string src = body_json(create_json(c, kTiny))["id"];
    auto r = c.Post("/v1/videos/" + src + "/remix", json{{"prompt", "now in blue"}}.dump(),
                    "application/json");
    REQUIRE(r);
    CHECK(r->status == 200);
    auto v = body_json(r);
    CHECK(v["id"] != src);
    CHECK(v["remixed_from_video_id"] == src);
    CHECK(v["prompt"] == "now in blue");
    CHECK(v["size"] == "160x90");
    CHECK(mock.server->videos_created() == 2);
    CHECK(
        c.Post("/v1/videos/video_missing/remix", R"({"prompt":"x"})", "application/json")->status ==
        404);
    CHECK(c.Post("/v1/videos/" + src + "/remix", "{}", "application/json")->status == 400);
}

TEST_CASE("remix of a video still in progress is refused", "[mock][api]") {
    auto o = tiny_options();
    o.gen_time = Millis{60000};
    RunningMock mock(o);
    auto c = mock.client();
    std::string src = body_json(create_json(c, kTiny))["id"];
    auto r = c.Post("/v1/videos/" + src + "/remix", R"({"prompt":"x"})", "application/json");
    CHECK(r->status == 400);
    CHECK(mock.server->videos_created() == 1);
}

TEST_CASE("a prompt with the moderation word fails with moderation_blocked", "[mock][api]") {
    auto o = tiny_options();
    o.moderation_word = "Forbidden";
    RunningMock mock(o);
    auto c = mock.client();
    auto body = kTiny;
    body["prompt"] = "a FORBIDDEN dance";
    std::string id = body_json(create_json(c, body))["id"];
    auto v = wait_final(c, id);
    CHECK(v["status"] == "failed");
    CHECK(v["error"]["code"] == "moderation_blocked");
    CHECK_FALSE(v["error"]["message"].get<std::string>().empty());
    CHECK(c.Get("/v1/videos/" + id + "/content")->status == 400);
    std::string fine = body_json(create_json(c, kTiny))["id"];
    CHECK(wait_final(c, fine)["status"] == "completed");
}

TEST_CASE("models lists the model table", "[mock][api]") {
    Options o;
    o.keys = {"k"};
    RunningMock mock(o);
    auto c = mock.client("k");
    auto m = body_json(c.Get("/v1/models"));
    CHECK(m["object"] == "list");
    REQUIRE(m["data"].size() == 2);
    CHECK(m["data"][0]["id"] == "sora-2");
    CHECK(m["data"][0]["object"] == "model");
    CHECK(m["data"][0]["created"].is_number_integer());
    CHECK(m["data"][0]["owned_by"].is_string());
    CHECK(c.Get("/v1/models/sora-2-pro")->status == 200);
    CHECK(c.Get("/v1/models/veo")->status == 404);
}

TEST_CASE("unknown paths answer a JSON 404 with a request id", "[mock][api]") {
    RunningMock mock;
    auto c = mock.client();
    auto r = c.Get("/v1/images");
    REQUIRE(r);
    CHECK(r->status == 404);
    CHECK(code_of(r) == "unknown_url");
    CHECK_FALSE(r->get_header_value("x-request-id").empty());
}

TEST_CASE("stop returns promptly while a keep-alive client holds an idle connection",
          "[mock][api]") {
    RunningMock mock;
    auto c = mock.client();
    c.set_keep_alive(true);
    REQUIRE(c.Get("/v1/models")->status == 200);
    auto t0 = std::chrono::steady_clock::now();
    mock.server->stop();
    // Far below the 5 s keep-alive timeout a plain cpp-httplib server would wait out.
    CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(2));
}
