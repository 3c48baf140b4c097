// The daemon: one libuv loop that watches the inbox, carries out the engine's commands (HTTP,
// downloads, probes, the job store, delivery) and feeds the results back as events.
#pragma once

#include <uv.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "config/config.hpp"
#include "pipeline/job.hpp"

namespace vd {

enum class RunMode {
    forever,   // `videodrop run`
    drain,     // `videodrop once`: take the inbox, finish every job, exit
    one_pass,  // `videodrop once --no-wait`: do what can be done now, exit
};

struct DaemonSetup {
    Config config;
    std::map<std::string, std::vector<std::string>> keys;  // per provider; never logged
    RunMode mode = RunMode::forever;
    uint64_t seed = 0;  // jitter seed; 0 = from the clock
    // Called when a job reaches delivered, failed or cancelled (the demo's table).
    std::function<void(const Job&)> on_finished;
};

struct RunSummary {
    int delivered = 0;
    int failed = 0;  // failed or cancelled during this run (intake rejections included)
    int budget_held = 0;
    int paused = 0;  // waiting on a provider whose credentials were rejected
    int open = 0;    // not finished when the run ended
};

class Daemon {
  public:
    Daemon(uv_loop_t* loop, DaemonSetup setup);
    ~Daemon();
    Daemon(const Daemon&) = delete;
    Daemon& operator=(const Daemon&) = delete;

    // Opens the state folder (taking its lock), restores jobs, starts watching.
    tl::expected<void, std::string> start();
    // Stops intake and timers and abandons transfers (jobs resume at the next start); the loop
    // then runs out. Safe to call twice.
    void stop();
    // SIGHUP: new limits and providers; jobs are kept.
    // Refused (with the reason) when it would take a provider from jobs that reached it.
    tl::expected<void, std::string> reload(Config config,
                                           std::map<std::string, std::vector<std::string>> keys);
    std::optional<std::string> reload_conflict(
        const Config& config, const std::map<std::string, std::vector<std::string>>& keys) const;

    bool stopped() const;
    RunSummary summary() const;

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// Loads the keys of every provider (environment, files); an error names where it looked.
tl::expected<std::map<std::string, std::vector<std::string>>, std::string> load_all_keys(
    const Config& config);

// Runs a daemon on its own loop with SIGINT/SIGTERM (stop) and SIGHUP (reload) handled, and
// systemd notified. Returns the exit code of the README.
int run_daemon(DaemonSetup setup, RunSummary* summary = nullptr);

// Sets up spdlog on stderr as [log] says (level may be overridden).
void setup_logging(const LogSettings& log, const std::string& level_override);

}  // namespace vd
