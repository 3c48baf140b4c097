// Drains N manifests through the daemon against the in-process mock with zero generation time,
// and reports wall time, CPU seconds, peak RSS, and creates and polls per job. The baseline is
// the same run at N/10 jobs, side by side, so the ratio shows how cost grows with the queue.
#include <sys/resource.h>
#include <sys/time.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <spdlog/spdlog.h>

#include "daemon/daemon.hpp"
#include "mock/mock.hpp"

namespace fs = std::filesystem;
using namespace vd;

namespace {

struct Figures {
    int jobs = 0;
    double wall_s = 0, cpu_s = 0;
    long peak_rss_kb = 0;
    double creates_per_job = 0, polls_per_job = 0;
    int delivered = 0;
};

double cpu_seconds() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    auto sec = [](timeval t) { return double(t.tv_sec) + double(t.tv_usec) / 1e6; };
    return sec(ru.ru_utime) + sec(ru.ru_stime);
}

Figures run(int jobs) {
    mock::Options o;
    o.keys = {"sk-bench"};
    o.queue_time = Millis{0};
    o.gen_time = Millis{0};
    o.models["tiny"] = ModelSpec{"tiny", {1}, {"160x90"}, 0.01};
    mock::Server server(o);
    server.start();

    char tmpl[] = "/tmp/vd-bench-XXXXXX";
    fs::path root = ::mkdtemp(tmpl);
    for (auto d : {"inbox", "outbox", "failed", "state"})
        fs::create_directories(root / d);
    for (int i = 0; i < jobs; ++i) {
        auto name = "job-" + std::to_string(i) + ".json";
        std::ofstream(root / "inbox" / name) << R"({"prompt": "bench )" << i << R"("})";
    }
    std::string toml = "[paths]\ninbox = \"" + (root / "inbox").string() + "\"\noutbox = \"" +
                       (root / "outbox").string() + "\"\nfailed = \"" + (root / "failed").string() +
                       "\"\nstate = \"" + (root / "state").string() +
                       "\"\n[defaults]\nprovider = \"mock\"\nmodel = \"tiny\"\nseconds = 1\n"
                       "size = \"160x90\"\n[providers.mock]\nbase_url = \"" +
                       server.base_url() +
                       "\"\napi_key_env = \"X\"\nsubmits_per_minute = 100000\nmax_in_flight = 64\n"
                       "[providers.mock.models.tiny]\nseconds = [1]\nsizes = [\"160x90\"]\n"
                       "usd_per_second = 0.01\n[intake]\nsettle = \"0ms\"\n[polling]\n"
                       "min_interval = \"100ms\"\nmax_interval = \"1s\"\n";
    auto cfg = parse_config(toml, "bench.toml");
    if (!cfg) {
        std::fprintf(stderr, "%s\n", cfg.error().c_str());
        std::exit(1);
    }
    DaemonSetup setup;
    setup.config = *cfg;
    setup.keys["mock"] = {"sk-bench"};
    setup.mode = RunMode::drain;
    setup.seed = 1;
    double cpu0 = cpu_seconds();
    auto t0 = std::chrono::steady_clock::now();
    RunSummary summary;
    run_daemon(std::move(setup), &summary);
    Figures f;
    f.jobs = jobs;
    f.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    f.cpu_s = cpu_seconds() - cpu0;  // daemon and in-process mock together
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    f.peak_rss_kb = ru.ru_maxrss;
    int creates = 0, polls = 0;
    for (const auto& r : server.requests()) {
        if (r.method == "POST" && r.path == "/v1/videos") ++creates;
        if (r.method == "GET" && r.path.rfind("/v1/videos/", 0) == 0 &&
            r.path.find("/content") == std::string::npos)
            ++polls;
    }
    f.creates_per_job = double(creates) / jobs;
    f.polls_per_job = double(polls) / jobs;
    f.delivered = summary.delivered;
    server.stop();
    fs::remove_all(root);
    return f;
}

void print(const char* label, const Figures& f) {
    std::printf(
        "%-9s %5d jobs: %5d delivered, wall %6.2f s (%6.1f jobs/s), cpu %6.2f s "
        "(%5.2f ms/job), peak RSS %6.1f MiB, %.2f creates/job, %.2f polls/job\n",
        label, f.jobs, f.delivered, f.wall_s, f.jobs / f.wall_s, f.cpu_s, 1000 * f.cpu_s / f.jobs,
        f.peak_rss_kb / 1024.0, f.creates_per_job, f.polls_per_job);
}

}  // namespace

int main(int argc, char** argv) {
    int jobs = argc > 1 ? std::atoi(argv[1]) : 1000;
    spdlog::set_level(spdlog::level::err);
    Figures base = run(std::max(1, jobs / 10));
    Figures full = run(jobs);
    print("baseline", base);
    print("full", full);
    std::printf("ratio: %.1fx the jobs took %.1fx the wall time and %.1fx the CPU per job\n",
                double(full.jobs) / base.jobs, full.wall_s / base.wall_s,
                (full.cpu_s / full.jobs) / (base.cpu_s / base.jobs));
    return full.delivered == jobs ? 0 : 1;
}
