// Subcommands of the `videodrop` executable. Each lives in its own cmd_*.cpp and adds itself
// to the CLI11 app; the callback stores the exit code in `rc`.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "config/config.hpp"
#include "daemon/daemon.hpp"

namespace vd::cli {

struct Globals {
    std::string config;     // --config FILE
    std::string log_level;  // --log-level, overrides [log] level
    // Starts servers for the setup's self-served providers (protocol::self_served) and sets
    // their base_url; what it returns keeps them running. nullopt: one could not start (the
    // reason is on stderr). The executable sets it (app/builtin_mock.cpp); the daemon library
    // knows no server of its own.
    std::function<std::optional<std::shared_ptr<void>>(DaemonSetup&)> local_servers;
};

// Exit codes (README, under the command table).
inline constexpr int kOk = 0;
inline constexpr int kFatal = 1;
inline constexpr int kUsage = 2;
inline constexpr int kSomeFailed = 3;
inline constexpr int kBudgetHeld = 4;  // `once`: the rest done, some jobs wait for the budget

// The configuration --config, $VIDEODROP_CONFIG or the default places name; on failure the
// reason is on stderr (the caller exits kFatal).
std::optional<Config> load_config_or_report(const Globals& g);

void add_run(CLI::App& app, Globals& g, int& rc);       // run, once
void add_validate(CLI::App& app, Globals& g, int& rc);  // validate, cost
void add_manage(CLI::App& app, Globals& g, int& rc);    // submit, status, retry, cancel, check

}  // namespace vd::cli
