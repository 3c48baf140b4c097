#include "daemon/sidecar.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cctype>

namespace {

using nlohmann::json;

constexpr int64_t k20261122T10 = 1795341600000;  // 2026-11-22T10:00:00Z

vd::Job delivered_job() {
    vd::Job job;
    job.id = "7-cat-piano";
    job.spec.name = "cat-piano";
    job.spec.provider = "openai";
    job.spec.model = "sora-2";
    job.spec.seconds = 8;
    job.spec.size = {1280, 720};
    job.spec.prompt = "a cat plays the piano";
    job.spec.image = "/state/claimed/7-cat-piano/cat.fitted.png";
    job.spec.image_original = "cat.png";
    job.spec.image_sha256 = "abc123";
    job.spec.image_fit = "cover";
    job.spec.meta = {{"project", "demo"}};
    job.spec.manifest = {{"prompt", "a cat plays the piano"}, {"seconds", 8}};
    job.video_id = "video_123";
    job.request_ids = {"req_1", "req_2"};
    job.discovered = vd::from_ms(k20261122T10);
    job.submitted = vd::from_ms(k20261122T10 + 1500);
    job.completed = vd::from_ms(k20261122T10 + 61234);
    job.submit_attempts = 1;
    job.download_attempts = 2;
    job.polls = 4;
    job.cost_usd = 0.1 * 8;
    job.variants_done = {"video", "thumbnail"};
    job.media.container = "mp4";
    job.media.duration = 8.0;
    job.media.video_codec = "h264";
    job.media.width = 1280;
    job.media.height = 720;
    job.media.fps = 30;
    job.media.frames = 240;
    job.media.has_audio = true;
    job.media.audio_codec = "aac";
    job.media.sample_rate = 48000;
    job.media.channels = 2;
    job.media.bytes = 3772816;
    job.media.sha256 = "def456";
    return job;
}

vd::JobError error_of(std::string stage, std::string code, std::string message = "") {
    vd::JobError e;
    e.stage = std::move(stage);
    e.code = std::move(code);
    e.message = std::move(message);
    return e;
}

// Every key anywhere in the document, lower-cased.
void collect_keys(const json& j, std::vector<std::string>& out) {
    if (j.is_object())
        for (const auto& [k, v] : j.items()) {
            std::string lower = k;
            std::transform(lower.begin(), lower.end(), lower.begin(),
                           [](unsigned char c) { return std::tolower(c); });
            out.push_back(lower);
            collect_keys(v, out);
        }
    if (j.is_array())
        for (const auto& v : j)
            collect_keys(v, out);
}

}  // namespace

TEST_CASE("timestamps are ISO-8601 UTC with milliseconds", "[delivery]") {
    CHECK(vd::iso8601_utc(vd::from_ms(k20261122T10)) == "2026-11-22T10:00:00.000Z");
    CHECK(vd::iso8601_utc(vd::from_ms(k20261122T10 + 61234)) == "2026-11-22T10:01:01.234Z");
    CHECK(vd::iso8601_utc(vd::from_ms(-1)) == "1969-12-31T23:59:59.999Z");
}

TEST_CASE("the sidecar has the documented shape", "[delivery]") {
    auto job = delivered_job();
    json s = vd::make_sidecar(job, "cat-piano-2", vd::from_ms(k20261122T10 + 70000), "0.1.0");
    json expected = {
        {"schema", "videodrop.sidecar/1"},
        {"name", "cat-piano-2"},
        {"renamed_from", "cat-piano"},
        {"status", "completed"},
        {"manifest", job.spec.manifest},
        {"request",
         {{"provider", "openai"},
          {"model", "sora-2"},
          {"seconds", 8},
          {"size", "1280x720"},
          {"prompt", "a cat plays the piano"},
          {"input_reference", {{"file", "cat.png"}, {"sha256", "abc123"}, {"fit", "cover"}}}}},
        {"provider",
         {{"video_id", "video_123"},
          {"remixed_from", nullptr},
          {"request_ids", {"req_1", "req_2"}},
          {"protocol", nullptr},
          {"served_model", nullptr},
          {"result_host", nullptr}}},
        {"timing",
         {{"discovered", "2026-11-22T10:00:00.000Z"},
          {"submitted", "2026-11-22T10:00:01.500Z"},
          {"completed", "2026-11-22T10:01:01.234Z"},
          {"delivered", "2026-11-22T10:01:10.000Z"}}},
        {"attempts", {{"submit", 1}, {"download", 2}, {"polls", 4}}},
        {"cost",
         {{"usd", 0.8},
          {"usd_per_second", 0.1},
          {"seconds", 8},
          {"estimated", true},
          {"reported_usd", nullptr}}},
        {"file", {{"name", "cat-piano-2.mp4"}, {"bytes", 3772816}, {"sha256", "def456"}}},
        {"media",
         {{"container", "mp4"},
          {"duration", 8.0},
          {"video",
           {{"codec", "h264"}, {"width", 1280}, {"height", 720}, {"fps", 30}, {"frames", 240}}},
          {"audio", {{"codec", "aac"}, {"sample_rate", 48000}, {"channels", 2}}}}},
        {"variants", {{"thumbnail", "cat-piano-2.thumbnail.webp"}}},
        {"storyboard", nullptr},
        {"meta", {{"project", "demo"}}},
        {"videodrop", {{"version", "0.1.0"}}},
    };
    CHECK(s == expected);
    CHECK(s.dump().find("\"fps\":30,") != std::string::npos);  // an integer, as documented
}

TEST_CASE("a sidecar names the protocol, the served model and the link's host, never the link",
          "[delivery]") {
    auto job = delivered_job();
    job.protocol = "chat-sse";
    job.served_model = "sora-video-landscape-8s";
    job.result_url = "https://user@cdn.example.com:8443/tmp/v.mp4?sig=SECRETSIG&expires=1";
    auto s = vd::make_sidecar(job, "cat-piano-2", vd::from_ms(k20261122T10 + 70000), "0.1.0");
    CHECK(s["provider"]["protocol"] == "chat-sse");
    CHECK(s["provider"]["served_model"] == "sora-video-landscape-8s");
    CHECK(s["provider"]["result_host"] == "cdn.example.com");
    CHECK(s.dump().find("SECRETSIG") == std::string::npos);
    CHECK(s.dump().find("user@") == std::string::npos);
}

TEST_CASE("a sidecar without image, audio or remix source says null there", "[delivery]") {
    auto job = delivered_job();
    job.spec.image_original.clear();
    job.spec.remix_of = "video_000";
    job.media.has_audio = false;
    job.media.fps = 29.97;
    job.variants_done = {"video"};
    job.cost_usd = 0.1 * 12;
    job.spec.seconds = 12;
    json s = vd::make_sidecar(job, "cat", vd::from_ms(k20261122T10), "0.1.0");
    CHECK(s["request"]["input_reference"].is_null());
    CHECK(s["media"]["audio"].is_null());
    CHECK(s["media"]["video"]["fps"] == 29.97);
    CHECK(s["provider"]["remixed_from"] == "video_000");
    CHECK(s["variants"] == json::object());
    CHECK(s["cost"].dump() ==
          R"({"estimated":true,"reported_usd":null,"seconds":12,"usd":1.2,"usd_per_second":0.1})");
}

TEST_CASE("the cost a provider reported stands beside the estimate", "[delivery]") {
    auto job = delivered_job();
    job.reported_cost_usd = 0.7512345678;
    json s = vd::make_sidecar(job, "cat", vd::from_ms(k20261122T10), "0.1.0");
    CHECK(s["cost"]["usd"] == 0.8);  // the estimate, which the budget counts
    CHECK(s["cost"]["reported_usd"] == 0.751235);
    CHECK(s["cost"]["estimated"] == true);
}

TEST_CASE("the sidecar and error file have no field that could carry a secret", "[delivery]") {
    auto job = delivered_job();
    std::vector<std::string> keys;
    collect_keys(vd::make_sidecar(job, "cat", vd::from_ms(k20261122T10), "0.1.0"), keys);
    collect_keys(vd::make_error("cat", json::object(), error_of("submit", "unauthorized")), keys);
    for (const auto& k : keys) {
        if (k == "manifest" || k == "meta") continue;  // the user's own words
        INFO(k);
        CHECK(k.find("key") == std::string::npos);
        CHECK(k.find("token") == std::string::npos);
        CHECK(k.find("secret") == std::string::npos);
        CHECK(k.find("auth") == std::string::npos);
        CHECK(k.find("password") == std::string::npos);
    }
}

TEST_CASE("the error file has the documented shape; absent details are null", "[delivery]") {
    vd::JobError e{"generate",
                   "moderation_blocked",
                   "Your request was blocked.",
                   400,
                   json{{"code", "moderation_blocked"}},
                   "req_9",
                   false,
                   "rephrase the prompt",
                   "",
                   0};
    json err = vd::make_error("cat", json{{"prompt", "x"}}, e);
    CHECK(err == json{{"schema", "videodrop.error/1"},
                      {"name", "cat"},
                      {"manifest", {{"prompt", "x"}}},
                      {"error",
                       {{"stage", "generate"},
                        {"code", "moderation_blocked"},
                        {"message", "Your request was blocked."},
                        {"http_status", 400},
                        {"provider_error", {{"code", "moderation_blocked"}}},
                        {"request_id", "req_9"},
                        {"retryable", false},
                        {"hint", "rephrase the prompt"}}}});

    json bare = vd::make_error("x y", nullptr, error_of("intake", "bad_name", "bad name"));
    CHECK(bare["manifest"].is_null());
    CHECK(bare["error"]["http_status"].is_null());
    CHECK(bare["error"]["provider_error"].is_null());
    CHECK(bare["error"]["request_id"].is_null());
}

TEST_CASE("a failed storyboard's error file lists its shots and which were paid", "[sidecar]") {
    vd::JobError e = vd::JobError::generate("moderation_blocked", "shot 2 of 2 (b-shot2): blocked");
    e.shots = json::array(
        {{{"shot", 1}, {"paid", true}, {"video_id", "v1"}}, {{"shot", 2}, {"paid", true}}});
    json out = vd::make_error("b", json::object(), e);
    REQUIRE(out["shots"].size() == 2);
    CHECK(out["shots"][0]["video_id"] == "v1");
    CHECK_FALSE(
        vd::make_error("c", json::object(), vd::JobError::generate("x", "y")).contains("shots"));
}
