// The money and data promises against the real shell, with faults made the real way: a
// keep-alive connection closed after the create, bytes wrecked inside the media data, a folder
// layout that eats itself, an impossible budget, a cancel with no daemon running.
#include <catch2/catch.hpp>

#include <map>

#include "daemon/cli.hpp"
#include "daemon/daemon.hpp"
#include "daemon/job_store.hpp"
#include "daemon/manage.hpp"
#include "daemon/manage_util.hpp"
#include "daemon/media_probe.hpp"
#include "tests/daemon/daemon_fixtures.hpp"

namespace fs = std::filesystem;

namespace vd {
namespace {

// Creates (POST /v1/videos) that made a video, by prompt.
std::map<std::string, int> videos_by_prompt(const mock::Server& server) {
    std::map<std::string, int> out;
    for (const auto& r : server.requests())
        if (r.method == "POST" && r.path == "/v1/videos" && !r.video_id.empty())
            ++out[r.fields.value("prompt", "")];
    return out;
}

}  // namespace

TEST_CASE(
    "a create whose keep-alive connection dies after the provider made the video is not "
    "sent again underneath",
    "[daemon][promises]") {
    auto o = mock_options();
    // Every create that arrives on a connection that served a request before makes the video,
    // then the connection closes without a byte of answer: an idle-connection cut at a gateway.
    o.lost_on_reuse_rate = 1.0;
    mock::Server server(o);
    server.start();
    Spool s;
    for (int i = 0; i < 12; ++i)
        s.drop("ka-" + std::to_string(i) + ".json",
               R"({"prompt": "keep-alive )" + std::to_string(i) + R"("})");
    Tuning t;
    t.max_in_flight = 2;  // creates follow polls and downloads on the same connections
    auto summary = drain(s, server.base_url(), "sk-test", nullptr, t);
    CHECK(summary.delivered == 12);
    auto created = videos_by_prompt(server);
    CHECK(created.size() == 12);
    for (const auto& [prompt, n] : created) {
        INFO(prompt);
        CHECK(n == 1);
    }
    CHECK(server.videos_created() == 12);
}

TEST_CASE(
    "wrecked media data fails verification, is never published, and retry fetches the "
    "same video without paying again",
    "[daemon][promises]") {
    auto o = mock_options();
    o.corrupt_rate = 1.0;  // every download has bytes flipped inside mdat, boxes intact
    mock::Server server(o);
    server.start();
    Spool s;
    s.drop("wrecked.json", R"({"prompt": "wrecked in transit"})");
    Tuning t;
    t.extra = "";
    int rc = -1;
    auto summary = drain(s, server.base_url(), "sk-test", &rc, t);
    CHECK(rc == cli::kSomeFailed);
    CHECK(summary.failed == 1);
    CHECK(s.files(s.outbox()).empty());
    auto error = read_json(s.failed() / "wrecked.error.json");
    CHECK(error["error"]["stage"] == "verify");
    CHECK(error["error"]["code"] == "undecodable");
    std::string video_id = error["error"]["video_id"];
    CHECK(!video_id.empty());
    size_t fetches = 0;
    for (const auto& r : server.requests())
        fetches += r.path.ends_with("/content");
    CHECK(fetches == 5);  // verify.max_download_attempts, one counter for every kind of failure
    CHECK(server.videos_created() == 1);

    // The provider still has the video: `retry` fetches it, it does not create a new one.
    server.update([](mock::Options& m) { m.corrupt_rate = 0; });
    Config cfg = config_for(s, server.base_url(), t);
    REQUIRE(manage::retry(cfg, {"wrecked"}, false) == cli::kOk);
    summary = drain(s, server.base_url(), "sk-test", &rc, t);
    CHECK(rc == 0);
    CHECK(summary.delivered == 1);
    CHECK(server.videos_created() == 1);
    require_good_video(s.outbox() / "wrecked.mp4", {160, 90}, 1);
    CHECK(read_json(s.outbox() / "wrecked.json")["provider"]["video_id"] == video_id);
    CHECK(s.files(s.root / "state" / "refetch").empty());
}

TEST_CASE("demux-level verification lets wrecked media data through; decode does not",
          "[daemon][promises]") {
    // The same fault as above, shown to be invisible without decoding.
    auto o = mock_options();
    o.corrupt_rate = 1.0;
    mock::Server server(o);
    server.start();
    Spool s;
    s.drop("cheap.json", R"({"prompt": "checked cheaply"})");
    Tuning t;
    t.verify_level = "demux";
    auto summary = drain(s, server.base_url(), "sk-test", nullptr, t);
    REQUIRE(summary.delivered == 1);
    MediaInfo info = probe_mp4((s.outbox() / "cheap.mp4").string(), true);
    CHECK(info.decode_errors > 0);
    Expectation e;
    e.size = {160, 90};
    e.seconds = 1;
    CHECK(evaluate(info, e).code == "undecodable");
}

TEST_CASE(
    "a job no budget can fit fails at intake with over_budget; one held for tomorrow "
    "ends once with its own exit code",
    "[daemon][promises]") {
    mock::Server server(mock_options());
    server.start();
    Spool s;
    s.drop("huge.json", R"({"prompt": "too dear", "seconds": 2})");  // $0.10
    Tuning t;
    t.extra = "[budget]\nusd_total = 0.08\n";
    int rc = -1;
    auto summary = drain(s, server.base_url(), "sk-test", &rc, t);
    CHECK(rc == cli::kSomeFailed);
    CHECK(summary.failed == 1);
    auto error = read_json(s.failed() / "huge.error.json");
    CHECK(error["error"]["code"] == "over_budget");
    CHECK_THAT(error["error"]["message"].get<std::string>(), Catch::Contains("$0.10"));
    CHECK(server.videos_created() == 0);

    Spool daily;
    daily.drop("first.json", R"({"prompt": "fits today"})");      // $0.05
    daily.drop("second.json", R"({"prompt": "fits tomorrow"})");  // $0.05 more
    Tuning d;
    d.extra = "[budget]\nusd_per_day = 0.06\n";
    summary = drain(daily, server.base_url(), "sk-test", &rc, d);
    CHECK(summary.delivered == 1);
    CHECK(summary.budget_held == 1);
    CHECK(rc == cli::kBudgetHeld);
}

TEST_CASE("cancel with no daemon running applies at once", "[daemon][promises]") {
    auto o = mock_options();
    o.gen_time = Millis{60'000};  // stays in flight
    mock::Server server(o);
    server.start();
    Spool s;
    s.drop("one.json", R"({"prompt": "first of two"})");
    s.drop("two.json", R"({"prompt": "second of two"})");
    // One pass: one job is created, the other held back by a one-a-minute limit.
    {
        spdlog::set_level(spdlog::level::warn);
        DaemonSetup setup;
        Tuning t;
        t.submits_per_minute = 1;
        setup.config = config_for(s, server.base_url(), t);
        setup.keys["mock"] = {"sk-test"};
        setup.mode = RunMode::one_pass;
        run_daemon(std::move(setup), nullptr);
    }
    Config cfg = config_for(s, server.base_url());
    auto jobs = state_view::jobs(cfg.paths.state);
    REQUIRE(jobs.size() == 2);
    REQUIRE(server.videos_created() == 1);
    CHECK(manage::cancel(cfg, {"one", "two"}) == cli::kOk);
    for (auto name : {"one", "two"}) {
        INFO(name);
        auto error = read_json(s.failed() / (std::string(name) + ".error.json"));
        CHECK(error["error"]["code"] == "cancelled");
        CHECK(!fs::exists(s.root / "state" / "cancel" / name));
    }
    CHECK(s.files(s.root / "state" / "claimed").empty());
    // The held job's reservation came back; the created one's charge stays (it may be billed).
    double spent = 0;
    for (const auto& job : state_view::jobs(cfg.paths.state)) {
        CHECK(job.state == State::cancelled);
        if (job.charged) spent += job.cost_usd;
    }
    CHECK(spent == Approx(0.05));
}

TEST_CASE("a delivered job whose claim folder outlived a kill has it removed at the next start",
          "[daemon][promises]") {
    // The state kill -9 leaves between recording `delivered` and removing the claim folder.
    mock::Server server(mock_options());
    server.start();
    Spool s;
    s.drop("done.json", R"({"prompt": "delivered before the kill"})");
    REQUIRE(drain(s, server.base_url(), "sk-test").delivered == 1);
    auto jobs = state_view::jobs((s.root / "state").string());
    REQUIRE(jobs.size() == 1);
    fs::path claim = s.root / "state" / "claimed" / jobs[0].id;
    fs::create_directories(claim);
    std::ofstream(claim / "done.json") << R"({"prompt": "delivered before the kill"})";
    drain(s, server.base_url(), "sk-test");
    CHECK(!fs::exists(claim));
    CHECK(s.files(s.outbox()) == std::vector<std::string>{"done.json", "done.mp4"});
    CHECK(server.videos_created() == 1);
}

}  // namespace vd
