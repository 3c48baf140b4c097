// The daemon end to end: a temporary spool, a config for the in-process mock, a drain.
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>
#include <catch2/catch.hpp>

#include "daemon/daemon.hpp"
#include "daemon/media_probe.hpp"
#include "mock/mock.hpp"
#include "pipeline/verdict.hpp"

namespace vd {

struct Spool {
    std::filesystem::path root;
    Spool() {
        char tmpl[] = "/tmp/vd-daemon-XXXXXX";
        root = ::mkdtemp(tmpl);
        for (auto d : {"inbox", "outbox", "failed", "state"})
            std::filesystem::create_directories(root / d);
    }
    ~Spool() {
        std::error_code ec;
        std::filesystem::remove_all(root, ec);
    }
    std::filesystem::path inbox() const { return root / "inbox"; }
    std::filesystem::path outbox() const { return root / "outbox"; }
    std::filesystem::path failed() const { return root / "failed"; }
    void drop(const std::string& name, const std::string& content) const {
        std::ofstream(inbox() / (name + ".tmp")) << content;
        std::filesystem::rename(inbox() / (name + ".tmp"), inbox() / name);
    }
    std::vector<std::string> files(const std::filesystem::path& dir) const {
        std::vector<std::string> out;
        for (const auto& e : std::filesystem::directory_iterator(dir))
            if (e.path().filename().string()[0] != '.') out.push_back(e.path().filename().string());
        std::sort(out.begin(), out.end());
        return out;
    }
};

inline mock::Options mock_options() {
    mock::Options o;
    o.keys = {"sk-test"};
    o.queue_time = Millis{20};
    o.gen_time = Millis{100};
    o.moderation_word = "forbidden";
    o.models["tiny"] = ModelSpec{"tiny", {1, 2}, {"160x90", "90x160"}, 0.05};
    return o;
}

struct Tuning {
    std::string settle = "20ms";
    int submits_per_minute = 600;
    int max_in_flight = 16;
    std::string metrics_textfile;
    std::string download_backoff = "100ms";
    std::string verify_level = "decode";
    std::string extra;  // more TOML, appended as it is
};

inline Config config_for(const Spool& s, const std::string& base_url, const Tuning& t = {}) {
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
submits_per_minute = )" +
                       std::to_string(t.submits_per_minute) +
                       R"(
max_in_flight = )" + std::to_string(t.max_in_flight) +
                       R"(

[providers.mock.models.tiny]
seconds = [1, 2]
sizes = ["160x90", "90x160"]
usd_per_second = 0.05

[intake]
settle = ")" + t.settle +
                       R"("
rescan = "1s"

[polling]
min_interval = "50ms"
max_interval = "500ms"
job_timeout = "2m"
)";
    toml += "[verify]\ndownload_backoff = \"" + t.download_backoff + "\"\nlevel = \"" +
            t.verify_level + "\"\n";
    toml += t.extra + "\n";
    if (!t.metrics_textfile.empty())
        toml += "[metrics]\ntextfile = \"" + t.metrics_textfile + "\"\n";
    auto cfg = parse_config(toml, "test.toml");
    REQUIRE(cfg);
    return *cfg;
}

inline RunSummary drain(const Spool& s, const std::string& base_url, const std::string& key,
                        int* rc = nullptr, const Tuning& tuning = {}) {
    spdlog::set_level(spdlog::level::warn);
    DaemonSetup setup;
    setup.config = config_for(s, base_url, tuning);
    setup.keys["mock"] = {key};
    setup.mode = RunMode::drain;
    setup.seed = 42;
    RunSummary summary;
    int code = run_daemon(std::move(setup), &summary);
    if (rc) *rc = code;
    return summary;
}

inline nlohmann::json read_json(const std::filesystem::path& p) {
    std::ifstream in(p);
    return nlohmann::json::parse(in);
}

// Every published MP4 passes the same verification the daemon runs.
inline void require_good_video(const std::filesystem::path& mp4, Size size, int seconds) {
    MediaInfo info = probe_mp4(mp4.string());
    Expectation e;
    e.size = size;
    e.seconds = seconds;
    Verdict v = evaluate(info, e);
    INFO(mp4 << ": " << v.code << " " << v.message);
    REQUIRE(v.ok);
}

inline size_t count_status(const mock::Server& server, int status,
                           const std::string& method = "POST") {
    size_t n = 0;
    for (const auto& r : server.requests())
        n += r.status == status && r.method == method;
    return n;
}

}  // namespace vd
