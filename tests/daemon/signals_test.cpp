// The real binary under signals and edge-case drains: SIGTERM stops `run` quickly and loses
// nothing, and a `once` run ends however its only manifest leaves the inbox.
#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "mock/mock.hpp"
#include "tests/daemon/child.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace vd {
namespace {

struct Root {
    fs::path dir;
    Root() {
        char tmpl[] = "/tmp/vd-signals-XXXXXX";
        dir = ::mkdtemp(tmpl);
        for (auto d : {"inbox", "outbox", "failed", "state"})
            fs::create_directories(dir / d);
    }
    ~Root() {
        std::error_code ec;
        fs::remove_all(dir, ec);
    }
    fs::path write_config(const std::string& base_url) const {
        fs::path config = dir / "videodrop.toml";
        std::ofstream(config)
            << "[paths]\ninbox = \"inbox\"\noutbox = \"outbox\"\nfailed = \"failed\"\n"
               "state = \"state\"\n[defaults]\nprovider = \"mock\"\nmodel = \"tiny\"\n"
               "seconds = 1\nsize = \"160x90\"\n[providers.mock]\nbase_url = \""
            << base_url
            << "\"\napi_key_env = \"VD_SIGNAL_TEST_KEY\"\nsubmits_per_minute = 600\n"
               "max_in_flight = 16\n[providers.mock.models.tiny]\nseconds = [1]\n"
               "sizes = [\"160x90\"]\nusd_per_second = 0.05\n[intake]\n"
               "settle = \"20ms\"\nrescan = \"1s\"\n[polling]\nmin_interval = \"50ms\"\n"
               "max_interval = \"300ms\"\n[log]\nlevel = \"warn\"\n";
        return config;
    }
    size_t count(const char* sub, const std::string& suffix) const {
        size_t n = 0;
        for (const auto& e : fs::directory_iterator(dir / sub))
            n += e.path().filename().string().ends_with(suffix);
        return n;
    }
};

pid_t spawn(const std::vector<std::string>& args) {
    return test::spawn(args, "VD_SIGNAL_TEST_KEY", "sk-signal");
}

using test::wait_at_most;

mock::Options slow_mock() {
    mock::Options o;
    o.keys = {"sk-signal"};
    o.queue_time = Millis{50};
    o.gen_time = Millis{3000};
    o.models["tiny"] = ModelSpec{"tiny", {1}, {"160x90"}, 0.05};
    return o;
}

}  // namespace

TEST_CASE("SIGTERM stops run within 5 s; the next start finishes the jobs without resubmitting",
          "[daemon][signals]") {
    mock::Server server(slow_mock());
    server.start();
    Root root;
    auto config = root.write_config(server.base_url());
    const int jobs = 4;
    for (int i = 0; i < jobs; ++i)
        std::ofstream(root.dir / "inbox" / ("term-" + std::to_string(i) + ".json"))
            << R"({"prompt": "signal test )" << i << R"("})";

    pid_t pid = spawn({VD_BINARY, "--config", config.string(), "run"});
    auto until = std::chrono::steady_clock::now() + 20s;
    while (server.videos_created() < static_cast<size_t>(jobs) &&
           std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(20ms);
    REQUIRE(server.videos_created() == static_cast<size_t>(jobs));

    ::kill(pid, SIGTERM);
    auto rc = wait_at_most(pid, 5s);
    REQUIRE(rc.has_value());
    CHECK(*rc == 0);
    CHECK(root.count("outbox", ".mp4") == 0);  // still rendering when stopped

    rc = wait_at_most(spawn({VD_BINARY, "--config", config.string(), "once"}), 60s);
    REQUIRE(rc.has_value());
    CHECK(*rc == 0);
    CHECK(root.count("outbox", ".mp4") == static_cast<size_t>(jobs));
    CHECK(server.videos_created() == static_cast<size_t>(jobs));
}

TEST_CASE("SIGHUP: a broken config is refused and the old one kept; a good one is applied",
          "[daemon][signals]") {
    auto o = slow_mock();
    o.gen_time = Millis{100};
    mock::Server server(o);
    server.start();
    Root root;
    auto config = root.write_config(server.base_url());
    std::string good;
    {
        std::ifstream in(config);
        good.assign(std::istreambuf_iterator<char>(in), {});
    }
    auto delivered = [&](const std::string& name) {
        auto until = std::chrono::steady_clock::now() + 30s;
        while (!fs::exists(root.dir / "outbox" / (name + ".json")) &&
               std::chrono::steady_clock::now() < until)
            std::this_thread::sleep_for(20ms);
        return fs::exists(root.dir / "outbox" / (name + ".mp4"));
    };
    pid_t pid = spawn({VD_BINARY, "--config", config.string(), "run"});
    // A first job proves the daemon is up (and its signal handlers with it).
    std::ofstream(root.dir / "inbox" / "before.json") << R"({"prompt": "before any reload"})";
    REQUIRE(delivered("before"));

    std::ofstream(config) << "[paths\nthis is not toml\n";
    ::kill(pid, SIGHUP);
    std::this_thread::sleep_for(200ms);
    std::ofstream(root.dir / "inbox" / "after-bad.json") << R"({"prompt": "after a bad reload"})";
    CHECK(delivered("after-bad"));

    // A good reload adds a provider; a manifest naming it is taken without a restart.
    std::ofstream(config) << good << "\n[providers.second]\nbase_url = \"" << server.base_url()
                          << "\"\napi_key_env = \"VD_SIGNAL_TEST_KEY\"\n"
                             "[providers.second.models.tiny]\nseconds = [1]\n"
                             "sizes = [\"160x90\"]\nusd_per_second = 0.05\n";
    ::kill(pid, SIGHUP);
    std::this_thread::sleep_for(200ms);
    std::ofstream(root.dir / "inbox" / "second.json")
        << R"({"prompt": "on the new provider", "provider": "second"})";
    CHECK(delivered("second"));
    CHECK(root.count("failed", ".json") == 0);

    ::kill(pid, SIGTERM);
    auto rc = wait_at_most(pid, 5s);
    REQUIRE(rc.has_value());
    CHECK(*rc == 0);
}

TEST_CASE("once ends when its only manifest is malformed", "[daemon][signals]") {
    Root root;
    // Nothing listens here; a malformed manifest never reaches the network.
    auto config = root.write_config("http://127.0.0.1:9");
    std::ofstream(root.dir / "inbox" / "broken.json") << R"({"prompt": )";
    auto rc = wait_at_most(spawn({VD_BINARY, "--config", config.string(), "once"}), 20s);
    REQUIRE(rc.has_value());  // before the fix this waited forever
    CHECK(*rc == 3);
    CHECK(fs::exists(root.dir / "failed" / "broken.error.json"));
    CHECK(fs::exists(root.dir / "failed" / "broken.json"));
}

TEST_CASE("once ends when its only manifest names a missing image", "[daemon][signals]") {
    Root root;
    auto config = root.write_config("http://127.0.0.1:9");
    std::ofstream(root.dir / "inbox" / "pic.json")
        << R"({"prompt": "needs a picture", "image": "absent.png"})";
    auto rc = wait_at_most(spawn({VD_BINARY, "--config", config.string(), "once"}), 20s);
    REQUIRE(rc.has_value());
    CHECK(*rc == 3);
    CHECK(fs::exists(root.dir / "failed" / "pic.error.json"));
}

}  // namespace vd

namespace vd {

TEST_CASE("a provider with protocol mock and no base_url is served in-process by once",
          "[daemon][signals]") {
    Root root;
    fs::path config = root.dir / "videodrop.toml";
    std::ofstream(config) << "[paths]\ninbox = \"inbox\"\noutbox = \"outbox\"\nfailed = "
                             "\"failed\"\nstate = \"state\"\n[defaults]\nprovider = \"local\"\n"
                             "model = \"tiny\"\nseconds = 1\nsize = \"160x90\"\n"
                             "[providers.local]\nprotocol = \"mock\"\n"
                             "[providers.local.models.tiny]\nseconds = [1]\n"
                             "sizes = [\"160x90\"]\nusd_per_second = 0.01\n[intake]\n"
                             "settle = \"20ms\"\n[polling]\nmin_interval = \"100ms\"\n"
                             "[log]\nlevel = \"warn\"\n";
    std::ofstream(root.dir / "inbox" / "local.json") << R"({"prompt": "no network needed"})";
    std::ofstream(root.dir / "inbox" / "refused.json") << R"({"prompt": "a forbidden one"})";
    auto rc = wait_at_most(spawn({VD_BINARY, "--config", config.string(), "once"}), 60s);
    REQUIRE(rc.has_value());
    CHECK(*rc == 3);  // the built-in mock refuses prompts with "forbidden", as in the demo
    CHECK(fs::file_size(root.dir / "outbox" / "local.mp4") > 0);
    CHECK(fs::exists(root.dir / "outbox" / "local.json"));
    CHECK(fs::exists(root.dir / "failed" / "refused.error.json"));
}

}  // namespace vd

namespace vd {

TEST_CASE("an unknown --log-level is a usage error, not silence", "[daemon][signals]") {
    Root root;
    auto config = root.write_config("http://127.0.0.1:9");
    auto rc = wait_at_most(
        spawn({VD_BINARY, "--config", config.string(), "--log-level", "bogus", "once"}), 20s);
    REQUIRE(rc.has_value());
    CHECK(*rc == 2);
    rc = wait_at_most(
        spawn({VD_BINARY, "--config", config.string(), "--log-level", "warn", "once"}), 20s);
    REQUIRE(rc.has_value());
    CHECK(*rc == 0);
}

}  // namespace vd
