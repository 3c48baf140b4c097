// `videodrop run` and `videodrop once [--no-wait]`.
#include <cstdio>
#include <memory>
#include <vector>

#include <spdlog/spdlog.h>

#include "daemon/cli.hpp"
#include "daemon/daemon.hpp"

namespace vd::cli {

namespace {

// What serves the self-served providers (the executable's built-in mock) runs until the
// returned holder goes; nullopt when one could not start (the reason is on stderr).
std::optional<std::shared_ptr<void>> start_local_servers(const Globals& g, DaemonSetup& setup) {
    if (!g.local_servers) return std::shared_ptr<void>();
    return g.local_servers(setup);
}

// Loads the configuration and the keys; prints the error and returns nullopt on failure.
std::optional<DaemonSetup> prepare(const Globals& g) {
    auto cfg = load_config_or_report(g);
    if (!cfg) return std::nullopt;
    setup_logging(cfg->log, g.log_level);
    auto keys = load_all_keys(*cfg);
    if (!keys) {
        std::fprintf(stderr, "videodrop: %s\n", keys.error().c_str());
        return std::nullopt;
    }
    DaemonSetup setup;
    setup.config = std::move(*cfg);
    setup.keys = std::move(*keys);
    return setup;
}

void report(const RunSummary& s) {
    std::fprintf(stderr, "videodrop: %d delivered, %d failed", s.delivered, s.failed);
    if (s.budget_held)
        std::fprintf(stderr, ", %d held by the budget (still queued)", s.budget_held);
    if (s.paused)
        std::fprintf(stderr, ", %d waiting on a provider that rejected the credentials", s.paused);
    if (s.open > s.budget_held + s.paused)
        std::fprintf(stderr, ", %d still in flight (resumed by the next run)",
                     s.open - s.budget_held - s.paused);
    std::fprintf(stderr, "\n");
}

}  // namespace

void add_run(CLI::App& app, Globals& g, int& rc) {
    auto* run = app.add_subcommand("run", "the daemon: watch the inbox forever");
    run->callback([&g, &rc] {
        auto setup = prepare(g);
        if (!setup) {
            rc = kFatal;
            return;
        }
        setup->mode = RunMode::forever;
        auto servers = start_local_servers(g, *setup);
        if (!servers) {
            rc = kFatal;
            return;
        }
        rc = run_daemon(std::move(*setup));
    });

    auto* once = app.add_subcommand(
        "once", "take everything in the inbox, finish every job in flight, exit");
    auto no_wait = std::make_shared<bool>(false);
    once->add_flag("--no-wait", *no_wait,
                   "one pass: submit what limits allow, poll once, deliver what is ready, exit");
    once->callback([&g, &rc, no_wait] {
        auto setup = prepare(g);
        if (!setup) {
            rc = kFatal;
            return;
        }
        setup->mode = *no_wait ? RunMode::one_pass : RunMode::drain;
        auto servers = start_local_servers(g, *setup);
        if (!servers) {
            rc = kFatal;
            return;
        }
        RunSummary summary;
        rc = run_daemon(std::move(*setup), &summary);
        report(summary);
    });
}

}  // namespace vd::cli
