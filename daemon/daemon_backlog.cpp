// The backlog: how many manifests the daemon claims ahead of what it can work on. A claimed job
// costs memory and a record; one waiting in the inbox costs neither, stays visible to the user
// as the file they dropped, and survives anything. So the daemon claims only a window of jobs
// beyond those at work and leaves the rest in the inbox until jobs finish.
#include <spdlog/spdlog.h>

#include "daemon/daemon_impl.hpp"

namespace vd {

namespace {
// Beyond twice the jobs that can be in flight at once: enough claimed jobs to fill every slot
// the moment one frees, whatever finishes first.
constexpr size_t kWindowSpare = 16;
}  // namespace

size_t Daemon::Impl::claim_window() const {
    size_t in_flight = 0;
    for (const auto& [name, p] : exec->engine().settings().providers)
        in_flight += static_cast<size_t>(std::max(1, p.max_in_flight) * std::max(1, p.key_count));
    return 2 * in_flight + kWindowSpare;
}

// Jobs held by the budget or a paused key do not count: they may wait for days, and the jobs
// behind them may fit the budget or go to another provider.
bool Daemon::Impl::window_full() {
    count_open();
    return static_cast<size_t>(counts.open - counts.budget_held - counts.paused) >= claim_window();
}

bool Daemon::Impl::hold(const std::string& name, int priority) {
    // One pass claims what it sees and leaves: the jobs wait, claimed, for the next run.
    if (setup.mode == RunMode::one_pass || !window_full()) return false;
    if (backlog.empty())
        spdlog::info("inbox: {} jobs at work; further manifests wait in the inbox", claim_window());
    backlog.insert({priority, backlog_order++, name});
    return true;
}

void Daemon::Impl::take_backlog() {
    while (!backlog.empty() && !stopping && !window_full()) {
        const std::string name = backlog.begin()->name;
        backlog.erase(backlog.begin());
        // Read again: it may have changed or gone (cancelled, taken by another instance).
        intake_one(name);
    }
}

}  // namespace vd
