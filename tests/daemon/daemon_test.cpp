// The daemon end to end against the in-process mock provider: real HTTP on loopback, real MP4s,
// real files. Each test drains an inbox with `once` semantics and looks at what landed where.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <spdlog/spdlog.h>

#include "daemon/daemon.hpp"
#include "daemon/media_probe.hpp"
#include "mock/media.hpp"
#include "mock/mock.hpp"
#include "pipeline/verdict.hpp"

namespace fs = std::filesystem;

namespace vd {
namespace {

struct Spool {
    fs::path root;
    Spool() {
        char tmpl[] = "/tmp/vd-daemon-XXXXXX";
        root = ::mkdtemp(tmpl);
        for (auto d : {"inbox", "outbox", "failed", "state"})
            fs::create_directories(root / d);
    }
    ~Spool() {
        std::error_code ec;
        fs::remove_all(root, ec);
    }
    fs::path inbox() const { return root / "inbox"; }
    fs::path outbox() const { return root / "outbox"; }
    fs::path failed() const { return root / "failed"; }
    void drop(const std::string& name, const std::string& content) const {
        std::ofstream(inbox() / (name + ".tmp")) << content;
        fs::rename(inbox() / (name + ".tmp"), inbox() / name);
    }
    std::vector<std::string> files(const fs::path& dir) const {
        std::vector<std::string> out;
        for (const auto& e : fs::directory_iterator(dir))
            if (e.path().filename().string()[0] != '.') out.push_back(e.path().filename().string());
        std::sort(out.begin(), out.end());
        return out;
    }
};

mock::Options mock_options() {
    mock::Options o;
    o.keys = {"sk-test"};
    o.queue_time = Millis{20};
    o.gen_time = Millis{100};
    o.moderation_word = "forbidden";
    o.models["tiny"] = ModelSpec{"tiny", {1, 2}, {"160x90", "90x160"}, 0.05};
    return o;
}

Config config_for(const Spool& s, const std::string& base_url) {
    std::string toml = R"(
[paths]
inbox = ")" + s.inbox().string() +
                       R"("
outbox = ")" + s.outbox().string() +
                       R"("
failed = ")" + s.failed().string() +
                       R"("
state = ")" + (s.root / "state").string() +
                       R"("

[defaults]
provider = "mock"
model = "tiny"
seconds = 1
size = "160x90"

[providers.mock]
base_url = ")" + base_url +
                       R"("
api_key_env = "VD_TEST_KEY"
submits_per_minute = 600
max_in_flight = 16

[providers.mock.models.tiny]
seconds = [1, 2]
sizes = ["160x90", "90x160"]
usd_per_second = 0.05

[intake]
settle = "20ms"
rescan = "1s"

[polling]
min_interval = "50ms"
max_interval = "500ms"
job_timeout = "2m"
)";
    auto cfg = parse_config(toml, "test.toml");
    REQUIRE(cfg);
    return *cfg;
}

RunSummary drain(const Spool& s, const std::string& base_url, const std::string& key,
                 int* rc = nullptr) {
    spdlog::set_level(spdlog::level::warn);
    DaemonSetup setup;
    setup.config = config_for(s, base_url);
    setup.keys["mock"] = {key};
    setup.mode = RunMode::drain;
    setup.seed = 42;
    RunSummary summary;
    int code = run_daemon(std::move(setup), &summary);
    if (rc) *rc = code;
    return summary;
}

nlohmann::json read_json(const fs::path& p) {
    std::ifstream in(p);
    return nlohmann::json::parse(in);
}

// Every published MP4 passes the same verification the daemon runs.
void require_good_video(const fs::path& mp4, Size size, int seconds) {
    MediaInfo info = probe_mp4(mp4.string());
    Expectation e;
    e.size = size;
    e.seconds = seconds;
    Verdict v = evaluate(info, e);
    INFO(mp4 << ": " << v.code << " " << v.message);
    REQUIRE(v.ok);
}

}  // namespace

TEST_CASE("every manifest form is drained into a verified MP4 and a sidecar", "[daemon]") {
    mock::Server server(mock_options());
    server.start();
    Spool s;
    auto still = mock::render_still("png", Size{64, 64}, 0);
    REQUIRE(still);
    std::ofstream(s.inbox() / "ref.png", std::ios::binary) << *still;
    std::ofstream(s.inbox() / "plain.png", std::ios::binary) << *still;
    s.drop("json-job.json", R"({"prompt": "a red ball", "meta": {"ticket": 7}})");
    s.drop("with-image.json", R"({"prompt": "from an image", "image": "ref.png"})");
    s.drop("plain.txt", "a plain text prompt\n");
    s.drop("tall.toml",
           "prompt = \"tall one\"\naspect = \"9:16\"\nseconds = 2\n"
           "variants = [\"thumbnail\", \"spritesheet\"]\n");
    int rc = -1;
    auto summary = drain(s, server.base_url(), "sk-test", &rc);
    CHECK(rc == 0);
    CHECK(summary.delivered == 4);
    CHECK(summary.failed == 0);
    CHECK(s.files(s.failed()).empty());
    CHECK(s.files(s.inbox()).empty());
    for (auto name : {"json-job", "with-image", "plain"})
        require_good_video(s.outbox() / (std::string(name) + ".mp4"), {160, 90}, 1);
    require_good_video(s.outbox() / "tall.mp4", {90, 160}, 2);
    CHECK(fs::exists(s.outbox() / "tall.thumbnail.webp"));
    CHECK(fs::exists(s.outbox() / "tall.spritesheet.jpg"));

    auto sidecar = read_json(s.outbox() / "json-job.json");
    CHECK(sidecar["schema"] == "videodrop.sidecar/1");
    CHECK(sidecar["status"] == "completed");
    CHECK(sidecar["meta"]["ticket"] == 7);
    CHECK(sidecar["file"]["bytes"] == fs::file_size(s.outbox() / "json-job.mp4"));
    CHECK(sidecar["media"]["video"]["width"] == 160);
    CHECK(!sidecar["provider"]["video_id"].get<std::string>().empty());
    auto with_image = read_json(s.outbox() / "with-image.json");
    CHECK(with_image["request"]["input_reference"]["fit"] == "cover");
    CHECK(with_image["request"]["input_reference"]["sha256"].get<std::string>().size() == 64);

    // The image went up fitted to the job's size.
    bool saw_fitted_upload = false;
    for (const auto& r : server.requests())
        for (const auto& f : r.files)
            saw_fitted_upload |= f.name == "input_reference" && f.width == 160 && f.height == 90;
    CHECK(saw_fitted_upload);
    CHECK(server.videos_created() == 4);
}

TEST_CASE("moderation and a malformed manifest land in failed/ with reasons", "[daemon]") {
    mock::Server server(mock_options());
    server.start();
    Spool s;
    s.drop("nope.json", R"({"prompt": "a forbidden thing"})");
    s.drop("broken.json", R"({"prompt": )");
    s.drop("ok.json", R"({"prompt": "fine"})");
    int rc = -1;
    auto summary = drain(s, server.base_url(), "sk-test", &rc);
    CHECK(rc == 3);
    CHECK(summary.delivered == 1);
    auto nope = read_json(s.failed() / "nope.error.json");
    CHECK(nope["schema"] == "videodrop.error/1");
    CHECK(nope["error"]["stage"] == "generate");
    CHECK(nope["error"]["code"] == "moderation_blocked");
    CHECK(fs::exists(s.failed() / "nope.json"));
    auto broken = read_json(s.failed() / "broken.error.json");
    CHECK(broken["error"]["stage"] == "validate");
    CHECK(broken["error"]["message"].get<std::string>().find("broken.json") != std::string::npos);
    CHECK(fs::exists(s.failed() / "broken.json"));
}

TEST_CASE("lost create answers never make a second video", "[daemon]") {
    auto o = mock_options();
    o.lost_rate = 0.5;
    mock::Server server(o);
    server.start();
    Spool s;
    for (int i = 0; i < 8; ++i)
        s.drop("lost-" + std::to_string(i) + ".json",
               R"({"prompt": "lost answer )" + std::to_string(i) + R"("})");
    auto summary = drain(s, server.base_url(), "sk-test");
    CHECK(summary.delivered == 8);
    size_t lost = 0;
    for (const auto& r : server.requests())
        lost += r.lost;
    CHECK(lost > 0);
    CHECK(server.videos_created() == 8);  // each lost answer was adopted, not resent
}

TEST_CASE("truncated and corrupted downloads are fetched again and never published", "[daemon]") {
    auto o = mock_options();
    o.truncate_rate = 0.3;
    o.fail_rate = 0.1;
    mock::Server server(o);
    server.start();
    Spool s;
    for (int i = 0; i < 8; ++i)
        s.drop("dl-" + std::to_string(i) + ".json",
               R"({"prompt": "download )" + std::to_string(i) + R"("})");
    auto summary = drain(s, server.base_url(), "sk-test");
    CHECK(summary.delivered + summary.failed == 8);
    CHECK(summary.delivered >= 6);
    for (const auto& f : s.files(s.outbox()))
        if (f.ends_with(".mp4")) require_good_video(s.outbox() / f, {160, 90}, 1);
    CHECK(s.files(s.outbox() / ".tmp").empty());
}

TEST_CASE("rejected credentials keep jobs queued and none failed", "[daemon]") {
    mock::Server server(mock_options());
    server.start();
    Spool s;
    s.drop("a.json", R"({"prompt": "waits for a key"})");
    int rc = -1;
    auto summary = drain(s, server.base_url(), "sk-wrong", &rc);
    CHECK(rc == 1);
    CHECK(summary.paused == 1);
    CHECK(summary.failed == 0);
    CHECK(s.files(s.failed()).empty());
    // With the right key the same state folder finishes the job.
    auto again = drain(s, server.base_url(), "sk-test", &rc);
    CHECK(rc == 0);
    CHECK(again.delivered == 1);
    CHECK(fs::exists(s.outbox() / "a.mp4"));
}

TEST_CASE("two outputs of one name never overwrite each other", "[daemon]") {
    mock::Server server(mock_options());
    server.start();
    Spool s;
    s.drop("cat.json", R"({"prompt": "first cat"})");
    drain(s, server.base_url(), "sk-test");
    s.drop("cat.json", R"({"prompt": "second cat"})");
    drain(s, server.base_url(), "sk-test");
    CHECK(read_json(s.outbox() / "cat.json")["request"]["prompt"] == "first cat");
    CHECK(read_json(s.outbox() / "cat-2.json")["request"]["prompt"] == "second cat");
    CHECK(read_json(s.outbox() / "cat-2.json")["name"] == "cat-2");
}

}  // namespace vd
