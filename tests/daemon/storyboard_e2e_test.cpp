// Storyboards end to end: a real `videodrop run` against the mock, killed with -9 twice while
// the shots are made, then drained. Each storyboard is one MP4 whose duration is the sum of
// its shots, with a sidecar listing them, and no shot is created twice.
#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "daemon/media_join.hpp"
#include "daemon/media_probe.hpp"
#include "mock/media.hpp"
#include "mock/mock.hpp"
#include "tests/daemon/child.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace vd {

namespace {

json read_json(const fs::path& p) {
    std::ifstream in(p);
    return json::parse(in, nullptr, false);
}

std::string config_for(const std::string& base_url) {
    return "[paths]\ninbox = \"inbox\"\noutbox = \"outbox\"\nfailed = \"failed\"\n"
           "state = \"state\"\n[defaults]\nprovider = \"mock\"\nmodel = \"tiny\"\n"
           "seconds = 1\nsize = \"160x90\"\n[providers.mock]\nbase_url = \"" +
           base_url +
           "\"\napi_key_env = \"VD_BOARD_TEST_KEY\"\nsubmits_per_minute = 600\n"
           "max_in_flight = 16\n[providers.mock.models.tiny]\nseconds = [1, 2]\n"
           "sizes = [\"160x90\"]\nusd_per_second = 0.05\n[intake]\n"
           "settle = \"20ms\"\nrescan = \"1s\"\n[polling]\nmin_interval = \"50ms\"\n"
           "max_interval = \"300ms\"\n[log]\nlevel = \"warn\"\n";
}

}  // namespace

TEST_CASE("storyboards: three shots each, kill -9 twice, one MP4 of the summed length",
          "[daemon][storyboard]") {
    mock::Options o;
    o.keys = {"sk-board"};
    o.queue_time = Millis{50};
    o.gen_time = Millis{500};
    o.models["tiny"] = ModelSpec{"tiny", {1, 2}, {"160x90"}, 0.05};
    mock::Server server(o);
    server.start();

    char tmpl[] = "/tmp/vd-board-XXXXXX";
    fs::path root = ::mkdtemp(tmpl);
    for (auto d : {"inbox", "outbox", "failed", "state"})
        fs::create_directories(root / d);
    fs::path config = root / "videodrop.toml";
    std::ofstream(config) << config_for(server.base_url());
    const json shots = json::array({{{"seconds", 1}, {"prompt", "a door opens"}},
                                    {{"seconds", 2}, {"prompt", "a dog runs in"}},
                                    {{"seconds", 1}, {"prompt", "the door closes"}}});
    std::ofstream(root / "inbox" / "board.json") << json{{"shots", shots}}.dump();
    std::ofstream(root / "inbox" / "chain.json")
        << json{{"shots", shots}, {"continuity", "last-frame"}}.dump();

    auto spawn = [&](const char* command) {
        return test::spawn({VD_BINARY, "--config", config.string(), command}, "VD_BOARD_TEST_KEY",
                           "sk-board");
    };
    for (int ms : {450, 900}) {
        pid_t pid = spawn("run");
        std::this_thread::sleep_for(std::chrono::milliseconds(ms));
        ::kill(pid, SIGKILL);
        CHECK(test::wait_for(pid) == -SIGKILL);
    }
    CHECK(test::wait_for(spawn("once")) == 0);

    for (const char* name : {"board", "chain"}) {
        INFO(name);
        CHECK_FALSE(fs::exists(root / "failed" / (std::string(name) + ".error.json")));
        REQUIRE(fs::exists(root / "outbox" / (std::string(name) + ".mp4")));
        MediaInfo m = probe_mp4((root / "outbox" / (std::string(name) + ".mp4")).string(), true);
        CHECK(m.opened);
        CHECK(m.decode_errors == 0);
        CHECK(m.duration == Approx(4.0).margin(0.15));
        CHECK(m.width == 160);
        json side = read_json(root / "outbox" / (std::string(name) + ".json"));
        REQUIRE(side["storyboard"].is_object());
        REQUIRE(side["storyboard"]["shots"].size() == 3);
        std::set<std::string> ids;
        for (const auto& shot : side["storyboard"]["shots"]) {
            ids.insert(shot["video_id"].get<std::string>());
            CHECK(shot["sha256"].get<std::string>().size() == 64);
        }
        CHECK(ids.size() == 3);
        CHECK(side["storyboard"]["shots"][1]["prompt"] == "a dog runs in");
        CHECK(side["request"]["seconds"] == 4);
        CHECK(side["cost"]["usd"] == Approx(0.20));
    }
    CHECK(read_json(root / "outbox" / "chain.json")["storyboard"]["continuity"] == "last-frame");
    CHECK(server.videos_created() == 6);  // three shots each, none made twice
    // With continuity, shots 2 and 3 went out with the shot before's last frame, fitted.
    int references = 0;
    for (const auto& r : server.requests()) {
        if (r.method != "POST" || r.path != "/v1/videos" || r.files.empty()) continue;
        ++references;
        INFO(r.fields.dump());
        CHECK(r.fields.value("prompt", "") != "a door opens");
        CHECK(r.files[0].name == "input_reference");
        CHECK(r.files[0].kind == "png");
        CHECK(r.files[0].width == 160);
        CHECK(r.files[0].height == 90);
    }
    CHECK(references == 2);
    CHECK(fs::is_empty(root / "inbox"));
    size_t left = 0;
    for (const auto& e : fs::directory_iterator(root / "outbox" / ".tmp")) {
        INFO(e.path());
        ++left;
    }
    CHECK(left == 0);  // kept shots and frames go once the storyboard is published
    fs::remove_all(root);
}

TEST_CASE("joining refuses shots whose streams differ, naming the shot", "[daemon][storyboard]") {
    char tmpl[] = "/tmp/vd-join-XXXXXX";
    fs::path root = ::mkdtemp(tmpl);
    auto small = mock::render_media(Size{160, 90}, 1);
    auto large = mock::render_media(Size{320, 180}, 1);
    REQUIRE(small);
    REQUIRE(large);
    std::ofstream(root / "a.mp4", std::ios::binary) << small->mp4;
    std::ofstream(root / "b.mp4", std::ios::binary) << large->mp4;
    auto same = join_mp4({(root / "a.mp4").string(), (root / "a.mp4").string()},
                         (root / "same.mp4").string());
    REQUIRE(same);
    MediaInfo m = probe_mp4((root / "same.mp4").string(), true);
    CHECK(m.duration == Approx(2.0).margin(0.1));
    CHECK(m.decode_errors == 0);
    auto mixed = join_mp4({(root / "a.mp4").string(), (root / "b.mp4").string()},
                          (root / "mixed.mp4").string());
    REQUIRE_FALSE(mixed);
    CHECK_THAT(mixed.error(),
               Catch::StartsWith("shot 2 is h264 320x180 and shot 1 is h264 160x90"));
    auto frame =
        last_frame_png((root / "b.mp4").string(), Size{160, 90}, (root / "last.png").string());
    CHECK(frame);
    CHECK(fs::file_size(root / "last.png") > 100);
    fs::remove_all(root);
}

}  // namespace vd
