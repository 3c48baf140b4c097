// protocol = "chat-sse" end to end: the real binary against the mock's streaming
// /v1/chat/completions, as a user would configure it. Text, image and portrait jobs delivered;
// a refusal and a broken stream each fail with their code after exactly one request; a kill -9
// while the stream is open never leads to a second create; `check` and `validate` speak of it.
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "mock/media.hpp"
#include "mock/mock.hpp"
#include "tests/daemon/child.hpp"
#include "tests/daemon/daemon_fixtures.hpp"

namespace vd {

namespace {

std::string chat_config(const Spool& s, const std::string& base_url,
                        const std::string& extra = "") {
    const std::string root = s.root.string();
    std::string text = "[paths]\ninbox = \"" + root + "/inbox\"\noutbox = \"" + root +
                       "/outbox\"\nfailed = \"" + root + "/failed\"\nstate = \"" + root +
                       "/state\"\n[defaults]\nprovider = \"studio\"\nmodel = \"tiny\"\n"
                       "seconds = 1\nsize = \"160x90\"\n[providers.studio]\n"
                       "protocol = \"chat-sse\"\nbase_url = \"" +
                       base_url + "\"\napi_key_env = \"VD_CHAT_KEY\"\nsubmits_per_minute = 600\n" +
                       extra +
                       "\n[providers.studio.models.tiny]\nseconds = [1, 2]\n"
                       "sizes = [\"160x90\", \"90x160\"]\nusd_per_second = 0.05\n"
                       "[intake]\nsettle = \"50ms\"\n";
    auto path = s.root / "videodrop.toml";
    std::ofstream(path) << text;
    return path.string();
}

test::ShellRun videodrop(const std::string& cfg, const std::string& args) {
    return test::run_shell("VD_CHAT_KEY=sk-test '" + std::string(VD_BINARY) + "' --config '" + cfg +
                           "' " + args + " 2>&1");
}

int chat_posts(const mock::Server& server) {
    int n = 0;
    for (const auto& r : server.requests())
        n += r.method == "POST" && r.path == "/v1/chat/completions";
    return n;
}

}  // namespace

TEST_CASE("chat-sse: text, portrait and image jobs are streamed, fetched and delivered",
          "[chat_sse][daemon]") {
    mock::Server server(mock_options());
    server.start();
    Spool s;
    auto still = mock::render_still("png", Size{64, 64}, 0);
    REQUIRE(still);
    std::ofstream(s.inbox() / "ref.png", std::ios::binary) << *still;
    s.drop("lake.json", R"({"prompt": "a calm lake"})");
    s.drop("hill.json", R"({"prompt": "a green hill", "seconds": 2, "aspect": "9:16"})");
    s.drop("pier.json", R"({"prompt": "a pier from a photo", "image": "ref.png"})");
    auto run = videodrop(chat_config(s, server.base_url()), "once");
    INFO(run.output);
    CHECK(run.code == 0);
    CHECK(s.files(s.failed()).empty());
    require_good_video(s.outbox() / "lake.mp4", {160, 90}, 1);
    require_good_video(s.outbox() / "hill.mp4", {90, 160}, 2);
    require_good_video(s.outbox() / "pier.mp4", {160, 90}, 1);
    CHECK(chat_posts(server) == 3);
    CHECK(server.videos_created() == 3);
    bool image_sent = false;
    std::set<std::string> models;
    for (const auto& r : server.requests()) {
        CHECK(r.status == 200);
        if (r.path == "/v1/chat/completions") models.insert(r.fields["model"].get<std::string>());
        for (const auto& f : r.files)
            image_sent |= f.width == 160 && f.height == 90 && f.kind == "png";
        if (r.path.rfind("/v1/files/", 0) == 0) CHECK(r.key_hash.empty());  // no key to a link
    }
    CHECK(image_sent);
    CHECK(models == std::set<std::string>{"sora-video-landscape-1s", "sora-video-portrait-2s"});
    auto sidecar = read_json(s.outbox() / "hill.json");
    CHECK(sidecar["provider"]["protocol"] == "chat-sse");
    CHECK(sidecar["provider"]["served_model"] == "sora-video-portrait-2s");
    CHECK(sidecar["provider"]["result_host"] == "127.0.0.1");
    CHECK(sidecar.dump().find("sig=") == std::string::npos);
}

TEST_CASE("chat-sse: a refusal and a broken stream fail with their codes after one request",
          "[chat_sse][daemon]") {
    SECTION("a refusal: the server's words, as moderation") {
        mock::Server server(mock_options());
        server.start();
        Spool s;
        s.drop("bad.json", R"({"prompt": "a forbidden scene"})");
        auto run = videodrop(chat_config(s, server.base_url()), "once");
        INFO(run.output);
        auto e = read_json(s.failed() / "bad.error.json");
        CHECK(e["error"]["code"] == "moderation_blocked");
        CHECK_THAT(e["error"]["message"].get<std::string>(), Catch::Contains("content policies"));
        CHECK(chat_posts(server) == 1);
    }
    SECTION("a stream cut after its second progress chunk: stream_lost, not resent") {
        auto o = mock_options();
        o.lost_rate = 1.0;
        mock::Server server(o);
        server.start();
        Spool s;
        s.drop("river.json", R"({"prompt": "a river in the rain"})");
        auto run = videodrop(chat_config(s, server.base_url()), "once");
        INFO(run.output);
        auto e = read_json(s.failed() / "river.error.json");
        CHECK(e["error"]["code"] == "stream_lost");
        CHECK_THAT(e["error"]["message"].get<std::string>(),
                   Catch::Contains("not resent, to avoid paying twice"));
        CHECK(chat_posts(server) == 1);
        CHECK(server.videos_created() == 1);
    }
    SECTION("on_lost_stream = resubmit: sent once more, then it fails") {
        auto o = mock_options();
        o.lost_rate = 1.0;
        mock::Server server(o);
        server.start();
        Spool s;
        s.drop("river.json", R"({"prompt": "a river in the rain"})");
        auto run =
            videodrop(chat_config(s, server.base_url(), "on_lost_stream = \"resubmit\""), "once");
        INFO(run.output);
        CHECK(read_json(s.failed() / "river.error.json")["error"]["code"] == "stream_lost");
        CHECK(chat_posts(server) == 2);
    }
}

TEST_CASE("chat-sse: kill -9 while the stream is open never creates twice", "[chat_sse][daemon]") {
    auto o = mock_options();
    o.gen_time = Millis{3000};
    mock::Server server(o);
    server.start();
    Spool s;
    const std::string cfg = chat_config(s, server.base_url());
    s.drop("slow.json", R"({"prompt": "a slow sunrise"})");
    pid_t pid = test::spawn({VD_BINARY, "--config", cfg, "run"}, "VD_CHAT_KEY", "sk-test");
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (chat_posts(server) == 0 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    REQUIRE(chat_posts(server) == 1);
    std::this_thread::sleep_for(std::chrono::milliseconds(800));  // progress has arrived
    ::kill(pid, SIGKILL);
    test::wait_for(pid);
    auto run = videodrop(cfg, "once");
    INFO(run.output);
    CHECK(read_json(s.failed() / "slow.error.json")["error"]["code"] == "stream_lost");
    CHECK(chat_posts(server) == 1);
    CHECK(s.files(s.inbox()).empty());
}

TEST_CASE("chat-sse: check asks for models and availability, validate names what is offered",
          "[chat_sse][daemon]") {
    auto o = mock_options();
    o.dialect = "chat-sse";  // /v1/models lists the chat names
    mock::Server server(o);
    server.start();
    Spool s;
    const std::string cfg = chat_config(s, server.base_url());
    auto check = videodrop(cfg, "check");
    INFO(check.output);
    CHECK(check.code == 0);
    CHECK_THAT(check.output, Catch::Contains("key 1: ok (4 models: ") &&
                                 Catch::Contains("streams each job's answer"));
    CHECK(check.output.find("warning") == std::string::npos);
    CHECK(server.videos_created() == 0);
    bool probed = false;
    for (const auto& r : server.requests())
        probed |= r.path == "/v1/chat/completions" && r.fields["stream"] == false;
    CHECK(probed);

    std::ofstream(s.root / "long.json") << R"({"prompt": "too long", "seconds": 3})";
    std::ofstream(s.root / "thumb.json") << R"({"prompt": "x", "variants": ["thumbnail"]})";
    auto validate = videodrop(cfg, "validate '" + (s.root / "long.json").string() + "' '" +
                                       (s.root / "thumb.json").string() + "'");
    INFO(validate.output);
    CHECK(validate.code != 0);
    CHECK_THAT(validate.output, Catch::Contains("seconds") && Catch::Contains("use 1 or 2"));
    CHECK_THAT(validate.output, Catch::Contains("speaks chat-sse, which gives the video only"));
}

}  // namespace vd

namespace vd {

TEST_CASE("chat-sse: a storyboard goes out as one generation in the server's shot syntax",
          "[chat_sse][daemon]") {
    mock::Server server(mock_options());
    server.start();
    Spool s;
    s.drop("board.toml",
           "[[shots]]\nseconds = 1\nprompt = \"a calm lake\"\n"
           "[[shots]]\nseconds = 1\nprompt = \"a boat crosses it\"\n");
    auto run = videodrop(chat_config(s, server.base_url()), "once");
    INFO(run.output);
    CHECK(run.code == 0);
    require_good_video(s.outbox() / "board.mp4", {160, 90}, 2);  // the shots' sum
    REQUIRE(chat_posts(server) == 1);
    for (const auto& r : server.requests())
        if (r.path == "/v1/chat/completions") {
            CHECK(r.fields["model"] == "sora-video-landscape-2s");
            CHECK(r.fields["messages"][0]["content"] ==
                  "[1.0s]a calm lake [1.0s]a boat crosses it");
        }
    auto sidecar = read_json(s.outbox() / "board.json");
    CHECK(sidecar["manifest"]["seconds"] == 2);
    CHECK(sidecar["manifest"]["shots"] ==
          nlohmann::json::array({{{"seconds", 1}, {"prompt", "a calm lake"}},
                                 {{"seconds", 1}, {"prompt", "a boat crosses it"}}}));
    CHECK(sidecar["cost"]["usd"] == Approx(0.10));
}

}  // namespace vd
