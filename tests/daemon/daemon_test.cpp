// The daemon end to end against the in-process mock provider: real HTTP on loopback, real MP4s,
// real files. Each test drains an inbox with `once` semantics and looks at what landed where.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include <spdlog/spdlog.h>

#include "daemon/daemon.hpp"
#include "daemon/media_probe.hpp"
#include "daemon/sha256.hpp"
#include "mock/media.hpp"
#include "mock/mock.hpp"
#include "pipeline/verdict.hpp"
#include "tests/daemon/daemon_fixtures.hpp"

namespace fs = std::filesystem;

namespace vd {

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
    CHECK(read_json(s.outbox() / "cat-2.json")["renamed_from"] == "cat");
    CHECK(read_json(s.outbox() / "cat.json")["renamed_from"].is_null());
}

TEST_CASE("a 429 storm holds the rate and every job still finishes once", "[daemon]") {
    auto o = mock_options();
    o.gen_time = Millis{50};
    o.rpm = 3;  // 3 creates a second: far below the 600 a minute the config claims
    o.rate_window = Millis{1000};
    mock::Server server(o);
    server.start();
    Spool s;
    const int jobs = 12;
    for (int i = 0; i < jobs; ++i)
        s.drop("storm-" + std::to_string(i) + ".json",
               R"({"prompt": "storm )" + std::to_string(i) + R"("})");
    int rc = -1;
    auto summary = drain(s, server.base_url(), "sk-test", &rc);
    CHECK(rc == 0);
    CHECK(summary.delivered == jobs);
    CHECK(server.videos_created() == static_cast<size_t>(jobs));
    // Retry-After is honoured and the creates that waited leave one at a time. The first burst
    // (all 12 at once, as the config allows) meets the mock's window; once its hold is over, no
    // second holds more than the halved rate (5 a second). A client that let every waiting
    // create go when the hold ended would send 9 at once into the window that refused them.
    CHECK(count_status(server, 429) > 0);
    int64_t hold_end = -1;
    for (const auto& r : server.requests())
        if (r.method == "POST" && r.status == 429) {
            hold_end = r.at_ms + r.retry_after_ms;
            break;
        }
    REQUIRE(hold_end > 0);
    std::vector<int64_t> posts;
    for (const auto& r : server.requests())
        if (r.method == "POST" && r.at_ms >= hold_end - 50) posts.push_back(r.at_ms);
    std::sort(posts.begin(), posts.end());
    CHECK(!posts.empty());  // the refused ones, sent again after the hold
    std::string timeline;   // arrival time at the mock (ms after the first create) and status
    for (const auto& r : server.requests())
        timeline += r.method.substr(0, 1) +
                    std::to_string(r.at_ms - server.requests().front().at_ms) + ":" +
                    std::to_string(r.status) + " ";
    INFO("creates: " << timeline << "; first hold ends at "
                     << hold_end - server.requests().front().at_ms);
    for (size_t i = 5; i < posts.size(); ++i) {
        INFO("creates " << i - 5 << " to " << i << " after the first hold");
        CHECK(posts[i] - posts[i - 5] >= 1000 - 50);
    }
}

TEST_CASE("5xx answers and connection resets are retried without a second video", "[daemon]") {
    auto o = mock_options();
    o.fail_rate = 0.2;
    o.reset_rate = 0.1;
    mock::Server server(o);
    server.start();
    Spool s;
    const int jobs = 10;
    for (int i = 0; i < jobs; ++i)
        s.drop("flaky-" + std::to_string(i) + ".json",
               R"({"prompt": "flaky network )" + std::to_string(i) + R"("})");
    int rc = -1;
    auto summary = drain(s, server.base_url(), "sk-test", &rc);
    CHECK(rc == 0);
    CHECK(summary.delivered == jobs);
    CHECK(server.videos_created() == static_cast<size_t>(jobs));
    size_t errors = 0;
    for (const auto& r : server.requests())
        errors += r.status >= 500 || r.status == 0;
    CHECK(errors > 0);
    for (const auto& f : s.files(s.outbox()))
        if (f.ends_with(".mp4")) require_good_video(s.outbox() / f, {160, 90}, 1);
}

TEST_CASE("manifests and images copied in piece by piece are taken only when complete",
          "[daemon]") {
    mock::Server server(mock_options());
    server.start();
    Spool s;
    auto still = mock::render_still("png", Size{64, 64}, 0);
    REQUIRE(still);
    const std::string prompt = "a long prompt written slowly, word by word, by a slow copier";
    const std::string json = R"({"prompt": ")" + prompt + R"(", "image": "slow.png"})";
    // The first bytes are there before the daemon starts; the rest follow while it runs, in
    // pieces closer together than the settle time.
    {
        std::ofstream(s.inbox() / "slow.json") << json.substr(0, 10);
        std::ofstream(s.inbox() / "slow.png", std::ios::binary) << still->substr(0, 16);
        std::ofstream(s.inbox() / "words.txt") << "a plain";
    }
    std::thread copier([&] {
        const std::string words = " text prompt";
        const size_t step = still->size() / 8 + 1;
        size_t json_at = 10, image_at = 16, words_at = 0;
        while (json_at < json.size() || image_at < still->size() || words_at < words.size()) {
            std::this_thread::sleep_for(std::chrono::milliseconds(40));
            if (json_at < json.size())
                std::ofstream(s.inbox() / "slow.json", std::ios::app) << json.substr(json_at, 10);
            if (image_at < still->size())
                std::ofstream(s.inbox() / "slow.png", std::ios::binary | std::ios::app)
                    << still->substr(image_at, step);
            if (words_at < words.size())
                std::ofstream(s.inbox() / "words.txt", std::ios::app) << words.substr(words_at, 2);
            json_at += 10;
            image_at += step;
            words_at += 2;
        }
    });
    Tuning t;
    t.settle = "400ms";
    int rc = -1;
    auto summary = drain(s, server.base_url(), "sk-test", &rc, t);
    copier.join();
    CHECK(rc == 0);
    CHECK(summary.delivered == 2);
    CHECK(s.files(s.failed()).empty());
    CHECK(read_json(s.outbox() / "slow.json")["request"]["prompt"] == prompt);
    CHECK(read_json(s.outbox() / "words.json")["request"]["prompt"] == "a plain text prompt");
    // The image went up whole: its recorded hash is that of every byte the copier wrote.
    CHECK(read_json(s.outbox() / "slow.json")["request"]["input_reference"]["sha256"] ==
          sha256_hex(*still));
}

TEST_CASE("1,000 manifests dropped at once are each delivered once", "[daemon][load]") {
    auto o = mock_options();
    o.queue_time = Millis{0};
    o.gen_time = Millis{0};
    mock::Server server(o);
    server.start();
    Spool s;
    const int jobs = 1000;
    for (int i = 0; i < jobs; ++i)
        s.drop("many-" + std::to_string(i) + ".json",
               R"({"prompt": "one of many )" + std::to_string(i) + R"("})");
    Tuning t;
    t.submits_per_minute = 100000;
    t.max_in_flight = 64;
    int rc = -1;
    auto summary = drain(s, server.base_url(), "sk-test", &rc, t);
    CHECK(rc == 0);
    CHECK(summary.delivered == jobs);
    CHECK(server.videos_created() == static_cast<size_t>(jobs));
    CHECK(s.files(s.inbox()).empty());
    CHECK(s.files(s.failed()).empty());
    CHECK(s.files(s.outbox()).size() == 2 * static_cast<size_t>(jobs));
}

TEST_CASE("manifests beyond the claim window wait in the inbox; priority still goes first",
          "[daemon][backlog]") {
    mock::Server server(mock_options());
    server.start();
    Spool s;
    const int jobs = 40;
    for (int i = 0; i < jobs; ++i)
        s.drop("many-" + std::to_string(i) + ".json",
               R"({"prompt": "one of many )" + std::to_string(i) + R"("})");
    s.drop("urgent.json", R"({"prompt": "the urgent one", "priority": 9})");
    Tuning t;
    t.max_in_flight = 1;  // a window of 2 x 1 + 16 = 18 claimed jobs
    t.verify_level = "demux";
    // Claims are folders in STATE/claimed: count them while the daemon runs.
    std::atomic<bool> done{false};
    std::atomic<size_t> most{0};
    std::thread counter([&] {
        while (!done) {
            std::error_code ec;
            size_t n = 0;
            for (std::filesystem::directory_iterator it(s.root / "state" / "claimed", ec), end;
                 !ec && it != end; it.increment(ec))
                ++n;
            most = std::max(most.load(), n);
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
        }
    });
    int rc = -1;
    auto summary = drain(s, server.base_url(), "sk-test", &rc, t);
    done = true;
    counter.join();
    CHECK(rc == 0);
    CHECK(summary.delivered == jobs + 1);
    CHECK(server.videos_created() == static_cast<size_t>(jobs + 1));
    CHECK(most.load() > 1);
    CHECK(most.load() <= 18);
    // The urgent manifest was dropped last and waited in the inbox: it is the first taken from
    // there, right after the window's first jobs.
    std::vector<std::string> prompts;
    for (const auto& r : server.requests())
        if (r.method == "POST" && r.path == "/v1/videos")
            prompts.push_back(r.fields.value("prompt", ""));
    auto at = std::find(prompts.begin(), prompts.end(), "the urgent one");
    REQUIRE(at != prompts.end());
    CHECK(at - prompts.begin() <= 18);
    CHECK(s.files(s.inbox()).empty());
}

}  // namespace vd

namespace vd {

TEST_CASE("an image in a subfolder is copied, so two manifests can share it", "[daemon]") {
    mock::Server server(mock_options());
    server.start();
    Spool s;
    auto still = mock::render_still("png", Size{64, 64}, 0);
    REQUIRE(still);
    fs::create_directories(s.inbox() / "refs");
    std::ofstream(s.inbox() / "refs" / "shared.png", std::ios::binary) << *still;
    fs::create_symlink("refs/shared.png", s.inbox() / "link.png");
    s.drop("first.json", R"({"prompt": "first", "image": "refs/shared.png"})");
    s.drop("second.json", R"({"prompt": "second", "image": "refs/shared.png"})");
    s.drop("linked.json", R"({"prompt": "through a link", "image": "link.png"})");
    s.drop("exact.json", R"({"prompt": "wrong size", "image": "refs/shared.png",
                              "image_fit": "exact"})");
    int rc = -1;
    auto summary = drain(s, server.base_url(), "sk-test", &rc);
    CHECK(rc == 3);
    CHECK(summary.delivered == 3);
    for (auto name : {"first", "second", "linked"}) {
        INFO(name);
        CHECK(read_json(s.outbox() /
                        (std::string(name) + ".json"))["request"]["input_reference"]["sha256"] ==
              sha256_hex(*still));
    }
    CHECK(fs::exists(s.inbox() / "refs" / "shared.png"));  // still there for the next one
    // The rejected one parsed, so its error file carries the manifest; a copy of the image went
    // along to failed/ and the shared original stayed.
    auto exact = read_json(s.failed() / "exact.error.json");
    CHECK(exact["error"]["code"] == "image_mismatch");
    CHECK(exact["manifest"]["image_fit"] == "exact");
    CHECK(fs::exists(s.failed() / "shared.png"));
}

}  // namespace vd

namespace vd {

TEST_CASE("the metrics textfile says what the daemon did", "[daemon][metrics]") {
    mock::Server server(mock_options());
    server.start();
    Spool s;
    s.drop("counted.json", R"({"prompt": "count me"})");
    s.drop("broken.json", R"({"prompt": )");
    Tuning t;
    t.metrics_textfile = (s.root / "videodrop.prom").string();
    drain(s, server.base_url(), "sk-test", nullptr, t);
    std::ifstream in(t.metrics_textfile);
    std::string text((std::istreambuf_iterator<char>(in)), {});
    CHECK_THAT(text, Catch::Contains("videodrop_delivered_total 1\n"));
    CHECK_THAT(text, Catch::Contains("videodrop_failed_total 1\n"));
    CHECK_THAT(text, Catch::Contains("videodrop_jobs{state=\"delivered\"} 1\n"));
    CHECK_THAT(text, Catch::Contains("videodrop_creates_total{provider=\"mock\"} 1\n"));
    CHECK_THAT(text, Catch::Contains("videodrop_spend_usd{period=\"total\"} 0.05\n"));
    CHECK_FALSE(fs::exists(t.metrics_textfile + ".tmp"));
}

}  // namespace vd
