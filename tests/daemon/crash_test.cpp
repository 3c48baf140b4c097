// kill -9 of a real `videodrop run` at random moments, restarted several times, then drained:
// every manifest ends exactly once in outbox/ or failed/, and no job is created twice.
#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "mock/mock.hpp"
#include "tests/daemon/child.hpp"

namespace fs = std::filesystem;

namespace vd {

using test::wait_for;

static pid_t spawn(const std::vector<std::string>& args) {
    return test::spawn(args, "VD_CRASH_TEST_KEY", "sk-crash");
}

TEST_CASE("kill -9 at random moments: every manifest ends once, none is created twice",
          "[daemon][crash]") {
    mock::Options o;
    o.keys = {"sk-crash"};
    o.queue_time = Millis{50};
    o.gen_time = Millis{400};
    o.models["tiny"] = ModelSpec{"tiny", {1}, {"160x90"}, 0.05};
    mock::Server server(o);
    server.start();

    char tmpl[] = "/tmp/vd-crash-XXXXXX";
    fs::path root = ::mkdtemp(tmpl);
    for (auto d : {"inbox", "outbox", "failed", "state"})
        fs::create_directories(root / d);
    fs::path config = root / "videodrop.toml";
    std::ofstream(config)
        << "[paths]\ninbox = \"inbox\"\noutbox = \"outbox\"\nfailed = \"failed\"\n"
           "state = \"state\"\n[defaults]\nprovider = \"mock\"\nmodel = \"tiny\"\n"
           "seconds = 1\nsize = \"160x90\"\n[providers.mock]\nbase_url = \""
        << server.base_url()
        << "\"\napi_key_env = \"VD_CRASH_TEST_KEY\"\nsubmits_per_minute = 600\n"
           "max_in_flight = 16\n[providers.mock.models.tiny]\nseconds = [1]\n"
           "sizes = [\"160x90\"]\nusd_per_second = 0.05\n[intake]\n"
           "settle = \"20ms\"\nrescan = \"1s\"\n[polling]\nmin_interval = \"50ms\"\n"
           "max_interval = \"300ms\"\n[log]\nlevel = \"warn\"\n";
    const int jobs = 12;
    for (int i = 0; i < jobs; ++i)
        std::ofstream(root / "inbox" / ("crash-" + std::to_string(i) + ".json"))
            << R"({"prompt": "crash test )" << i << R"("})";

    std::mt19937 rng(7);
    for (int round = 0; round < 5; ++round) {
        pid_t pid = spawn({VD_BINARY, "--config", config.string(), "run"});
        std::this_thread::sleep_for(std::chrono::milliseconds(100 + rng() % 700));
        ::kill(pid, SIGKILL);
        CHECK(wait_for(pid) == -SIGKILL);
    }
    int rc = wait_for(spawn({VD_BINARY, "--config", config.string(), "once"}));
    CHECK(rc == 0);

    int outcomes = 0;
    for (int i = 0; i < jobs; ++i) {
        std::string name = "crash-" + std::to_string(i);
        bool delivered = fs::exists(root / "outbox" / (name + ".json"));
        bool failed = fs::exists(root / "failed" / (name + ".error.json"));
        INFO(name);
        CHECK(delivered != failed);
        CHECK_FALSE(fs::exists(root / "outbox" / (name + "-2.json")));
        outcomes += delivered || failed;
        if (delivered) CHECK(fs::exists(root / "outbox" / (name + ".mp4")));
    }
    CHECK(outcomes == jobs);
    CHECK(server.videos_created() == static_cast<size_t>(jobs));
    CHECK(fs::is_empty(root / "inbox"));
    fs::remove_all(root);
}

}  // namespace vd
