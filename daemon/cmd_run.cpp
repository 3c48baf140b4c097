// `videodrop run` and `videodrop once [--no-wait]`.
#include <cstdio>
#include <memory>
#include <vector>

#include <spdlog/spdlog.h>

#include "daemon/cli.hpp"
#include "daemon/daemon.hpp"
#include "mock/mock.hpp"

namespace vd::cli {

namespace {

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

// A provider with `protocol = "mock"` and no base_url is served by the built-in mock, in this
// process on a free loopback port, for as long as the run lasts (with a base_url it is an
// external `videodrop mock-server`). Returns false when one cannot start.
using Mocks = std::vector<std::unique_ptr<mock::Server>>;
bool start_builtin_mocks(DaemonSetup& setup, Mocks& mocks) {
    for (auto& [name, p] : setup.config.providers) {
        if (p.core.protocol != "mock" || !p.core.base_url.empty()) continue;
        mock::Options o;
        o.queue_time = Millis{300};
        o.gen_time = Millis{1500};
        o.moderation_word = "forbidden";
        o.models = p.core.models;  // empty: the mock's own sora-2 and sora-2-pro
        o.keys = setup.keys[name];
        auto server = std::make_unique<mock::Server>(o);
        if (server->start() < 0) {
            std::fprintf(stderr,
                         "videodrop: providers.%s: the built-in mock cannot listen on "
                         "127.0.0.1\n",
                         name.c_str());
            return false;
        }
        p.core.base_url = server->base_url();
        spdlog::info("providers.{}: built-in mock provider at {}", name, p.core.base_url);
        mocks.push_back(std::move(server));
    }
    return true;
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
        Mocks mocks;
        if (!start_builtin_mocks(*setup, mocks)) {
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
        Mocks mocks;
        if (!start_builtin_mocks(*setup, mocks)) {
            rc = kFatal;
            return;
        }
        RunSummary summary;
        rc = run_daemon(std::move(*setup), &summary);
        report(summary);
    });
}

}  // namespace vd::cli
