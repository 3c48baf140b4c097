// The real binary across kills, reloads and restarts: a claim cut short by kill -9 is taken again,
// a reload never pulls a provider from under a job in flight, the create limit holds across any
// number of restarts, and folders that overlap are refused.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

#include "mock/media.hpp"
#include "mock/mock.hpp"
#include "tests/daemon/child.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace vd {
namespace {

struct Home {
    fs::path dir;
    Home() {
        char tmpl[] = "/tmp/vd-restart-XXXXXX";
        dir = ::mkdtemp(tmpl);
        for (auto d : {"inbox", "outbox", "failed", "state"})
            fs::create_directories(dir / d);
    }
    ~Home() {
        std::error_code ec;
        fs::remove_all(dir, ec);
    }
    std::string config(const std::string& base_url, int rpm = 600,
                       const std::string& provider = "mock") const {
        return "[paths]\ninbox = \"inbox\"\noutbox = \"outbox\"\nfailed = \"failed\"\n"
               "state = \"state\"\n[defaults]\nprovider = \"" +
               provider + "\"\nmodel = \"tiny\"\nseconds = 1\nsize = \"160x90\"\n[providers." +
               provider + "]\nbase_url = \"" + base_url +
               "\"\napi_key_env = \"VD_RESTART_KEY\"\nsubmits_per_minute = " + std::to_string(rpm) +
               "\nmax_in_flight = 16\n[providers." + provider +
               ".models.tiny]\nseconds = [1]\nsizes = [\"160x90\"]\nusd_per_second = 0.05\n"
               "[intake]\nsettle = \"20ms\"\nrescan = \"1s\"\n[polling]\n"
               "min_interval = \"50ms\"\nmax_interval = \"300ms\"\n[log]\nlevel = \"warn\"\n";
    }
    fs::path write(const std::string& text) const {
        std::ofstream(dir / "videodrop.toml") << text;
        return dir / "videodrop.toml";
    }
    std::vector<std::string> names(const char* sub) const {
        std::vector<std::string> out;
        std::error_code ec;
        for (fs::directory_iterator it(dir / sub, ec), end; !ec && it != end; it.increment(ec))
            if (it->path().filename().string()[0] != '.')  // the daemon's own work folders
                out.push_back(it->path().filename().string());
        return out;
    }
    void drop(const std::string& name, const std::string& text) const {
        std::ofstream(dir / "inbox" / (name + ".tmp")) << text;
        fs::rename(dir / "inbox" / (name + ".tmp"), dir / "inbox" / name);
    }
};

pid_t start(const std::vector<std::string>& args) {
    return test::spawn(args, "VD_RESTART_KEY", "sk-restart");
}

mock::Options quick_mock() {
    mock::Options o;
    o.keys = {"sk-restart"};
    o.queue_time = Millis{20};
    o.gen_time = Millis{100};
    o.models["tiny"] = ModelSpec{"tiny", {1}, {"160x90"}, 0.05};
    return o;
}

bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds limit) {
    auto until = std::chrono::steady_clock::now() + limit;
    while (!done()) {
        if (std::chrono::steady_clock::now() > until) return false;
        std::this_thread::sleep_for(1ms);
    }
    return true;
}

}  // namespace

TEST_CASE("kill -9 between a claim and its job record: the manifest is taken again, once",
          "[daemon][restart]") {
    mock::Server server(quick_mock());
    server.start();
    Home home;
    auto config = home.write(home.config(server.base_url()));
    // A large reference image: fitting it keeps the claim without a record for a while.
    auto big = mock::render_still("png", Size{4000, 4000}, 0);
    REQUIRE(big);
    std::ofstream(home.dir / "inbox" / "big.png", std::ios::binary) << *big;
    pid_t pid = start({VD_BINARY, "--config", config.string(), "run"});
    home.drop("big.json", R"({"prompt": "from a big image", "image": "big.png"})");
    bool cut = wait_until(
        [&] { return !home.names("state/claimed").empty() && home.names("state/jobs").empty(); },
        20s);
    ::kill(pid, SIGKILL);
    test::wait_for(pid);
    REQUIRE(cut);
    // What the kill left: inputs claimed, no record of a job.
    REQUIRE(home.names("state/jobs").empty());
    REQUIRE(home.names("state/claimed").size() == 1);

    auto rc = test::wait_at_most(start({VD_BINARY, "--config", config.string(), "once"}), 120s);
    REQUIRE(rc.has_value());
    CHECK(*rc == 0);
    CHECK(fs::exists(home.dir / "outbox" / "big.mp4"));
    CHECK(fs::exists(home.dir / "outbox" / "big.json"));
    CHECK(home.names("state/claimed").empty());
    CHECK(home.names("inbox").empty());
    CHECK(home.names("failed").empty());
    CHECK(server.videos_created() == 1);
}

TEST_CASE("a reload that removes the provider of a job in flight is refused and the job ends",
          "[daemon][restart]") {
    auto o = quick_mock();
    o.gen_time = Millis{3000};
    mock::Server server(o);
    server.start();
    Home home;
    auto config = home.write(home.config(server.base_url()));
    pid_t pid = start({VD_BINARY, "--config", config.string(), "run"});
    home.drop("inflight.json", R"({"prompt": "in flight during a reload"})");
    REQUIRE(wait_until([&] { return server.videos_created() == 1; }, 20s));
    // The new file knows only another provider.
    home.write(home.config(server.base_url(), 600, "other"));
    ::kill(pid, SIGHUP);
    std::this_thread::sleep_for(500ms);
    CHECK(::kill(pid, 0) == 0);  // still running
    CHECK(wait_until([&] { return fs::exists(home.dir / "outbox" / "inflight.json"); }, 30s));
    ::kill(pid, SIGTERM);
    auto rc = test::wait_at_most(pid, 10s);
    REQUIRE(rc.has_value());
    CHECK(*rc == 0);

    // Started with a config that lacks the provider of a job in flight: that job fails at once,
    // with a code that says so.
    home.write(home.config(server.base_url()));
    home.drop("orphaned.json", R"({"prompt": "its provider goes away"})");
    pid = start({VD_BINARY, "--config", config.string(), "run"});
    REQUIRE(wait_until([&] { return server.videos_created() == 2; }, 20s));
    ::kill(pid, SIGKILL);
    test::wait_for(pid);
    home.write(home.config(server.base_url(), 600, "other"));
    rc = test::wait_at_most(start({VD_BINARY, "--config", config.string(), "once"}), 60s);
    REQUIRE(rc.has_value());
    CHECK(*rc == 3);
    std::ifstream in(home.dir / "failed" / "orphaned.error.json");
    auto error = nlohmann::json::parse(in);
    CHECK(error["error"]["code"] == "provider_gone");
}

TEST_CASE("submits_per_minute holds across restarts", "[daemon][restart]") {
    mock::Server server(quick_mock());
    server.start();
    Home home;
    auto config = home.write(home.config(server.base_url(), 4));
    for (int i = 0; i < 12; ++i)
        home.drop("r" + std::to_string(i) + ".json",
                  R"({"prompt": "restart )" + std::to_string(i) + R"("})");
    for (int round = 0; round < 8; ++round) {
        pid_t pid = start({VD_BINARY, "--config", config.string(), "run"});
        std::this_thread::sleep_for(1500ms);
        ::kill(pid, SIGKILL);
        test::wait_for(pid);
    }
    std::vector<int64_t> creates;
    for (const auto& r : server.requests())
        if (r.method == "POST" && r.path == "/v1/videos") creates.push_back(r.at_ms);
    std::sort(creates.begin(), creates.end());
    REQUIRE(!creates.empty());
    size_t worst = 0;
    for (size_t i = 0; i < creates.size(); ++i) {
        size_t j = i;
        while (j < creates.size() && creates[j] < creates[i] + 60'000)
            ++j;
        worst = std::max(worst, j - i);
    }
    INFO(creates.size() << " creates over 8 restarts");
    CHECK(worst <= 4);
    CHECK(worst >= 1);
}

TEST_CASE("inbox, outbox, failed and state that overlap are refused, naming both",
          "[daemon][restart]") {
    Home home;
    std::string text = home.config("http://127.0.0.1:9/v1");
    std::string bad = text;
    bad.replace(bad.find("outbox = \"outbox\""), 17, "outbox = \"inbox\"");
    auto config = home.write(bad);
    auto r =
        test::run_shell(std::string(VD_BINARY) + " --config " + config.string() + " validate 2>&1");
    CHECK(r.code == 1);
    CHECK_THAT(r.output, Catch::Contains("inbox and outbox are the same folder"));
    bad = text;
    bad.replace(bad.find("state = \"state\""), 15, "state = \"failed/state\"");
    home.write(bad);
    r = test::run_shell(std::string(VD_BINARY) + " --config " + config.string() + " once 2>&1");
    CHECK(r.code == 1);
    CHECK_THAT(r.output, Catch::Contains("is inside failed"));
}

TEST_CASE("validate and cost name a manifest no budget can pay for", "[daemon][restart]") {
    Home home;
    auto config = home.write(home.config("http://127.0.0.1:9/v1") + "[budget]\nusd_total = 0.03\n");
    home.drop("dear.json", R"({"prompt": "costs $0.05"})");
    for (const char* command : {" validate", " cost"}) {
        auto r = test::run_shell(std::string(VD_BINARY) + " --config " + config.string() + command +
                                 " 2>&1");
        INFO(r.output);
        CHECK(r.code == 3);
        CHECK_THAT(r.output, Catch::Contains("dear.json: the estimate $0.05 is more than "
                                             "usd_total $0.03"));
    }
}

}  // namespace vd
