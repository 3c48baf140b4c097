// `videodrop status`: the job records and the ledger as a table (or JSON), read without the
// daemon's lock. Prompts are cut to 40 characters; nothing secret is in a record to begin with.
#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <thread>

#include "daemon/cli.hpp"
#include "daemon/delivery.hpp"
#include "daemon/job_store.hpp"
#include "daemon/manage.hpp"
#include "daemon/manage_util.hpp"
#include "pipeline/intake.hpp"

namespace vd::manage {
namespace {

using finished_index::Outline;
using nlohmann::json;

constexpr size_t kFinishedShown = 20;
constexpr size_t kPromptChars = 40;

// Active jobs first in arrival order, then finished ones newest first; finished jobs beyond
// kFinishedShown are dropped unless `all`. Returns how many were dropped.
size_t arrange(std::vector<Job>& jobs, bool all) {
    std::stable_sort(jobs.begin(), jobs.end(), [](const Job& a, const Job& b) {
        bool fa = is_terminal(a.state), fb = is_terminal(b.state);
        if (fa != fb) return !fa;
        return fa ? a.seq > b.seq : a.seq < b.seq;
    });
    size_t finished = 0, keep = 0;
    for (const auto& j : jobs) {
        if (is_terminal(j.state) && ++finished > kFinishedShown && !all) break;
        ++keep;
    }
    size_t dropped = jobs.size() - keep;
    jobs.resize(keep);
    return dropped;
}

std::string bar(int progress) {
    int p = std::clamp(progress, 0, 100);
    int filled = p / 10;
    char pct[8];
    std::snprintf(pct, sizeof pct, "%3d%%", p);
    return "[" + std::string(filled, '#') + std::string(10 - filled, '-') + "] " + pct;
}

std::string output_of(const Job& j) {
    return j.output_name.empty() ? "" : delivery::output_file(j.output_name, "video");
}

// What the user most wants to know about a job in its state.
std::string detail(const Job& j) {
    switch (j.state) {
        case State::waiting:
            return one_line(j.why.empty() ? "waiting" : j.why, 48);
        case State::in_progress:
            return bar(j.progress);
        case State::submitting:  // an answer stream (chat-sse) reports progress while open
            return j.progress > 0 ? bar(j.progress) : "";
        case State::delivered:  // a storyboard's shot is kept for the join, not published
            return j.parent.empty() ? "-> " + output_of(j) : "verified shot";
        case State::failed:
        case State::cancelled:
            return j.error ? one_line(j.error->stage + ": " + j.error->code, 48) : "";
        default:
            return "";
    }
}

// Jobs as the user dropped them, by state: a storyboard counts once, not per shot.
std::map<State, int> count_states(const std::vector<Job>& jobs, const std::vector<Outline>& more) {
    std::map<State, int> counts;
    for (const auto& j : jobs)
        if (j.parent.empty()) ++counts[j.state];
    for (const auto& o : more)
        if (o.parent.empty()) ++counts[o.state];
    return counts;
}

size_t count_jobs(const std::map<State, int>& counts) {
    size_t n = 0;
    for (const auto& [state, c] : counts)
        n += static_cast<size_t>(c);
    return n;
}

std::string cap(double spent, double limit, const char* what) {
    return usd(spent) + (limit > 0 ? " of " + usd(limit) + " " + what : std::string(" (no cap)"));
}

volatile std::sig_atomic_t g_stop = 0;
extern "C" void on_interrupt(int) {
    g_stop = 1;
}

// Manifests in the inbox not claimed yet: the daemon claims a window of jobs ahead of those at
// work and leaves the rest there (daemon/daemon_backlog.cpp).
size_t manifests_in(const std::string& inbox) {
    size_t n = 0;
    DIR* dir = ::opendir(inbox.c_str());
    if (!dir) return 0;
    while (const dirent* e = ::readdir(dir))
        if (intake::is_manifest_name(e->d_name)) ++n;
    ::closedir(dir);
    return n;
}

TimePoint wall_now() {
    return std::chrono::time_point_cast<Millis>(std::chrono::system_clock::now());
}

}  // namespace

std::string age(TimePoint since, TimePoint now) {
    if (to_ms(since) <= 0) return "-";
    auto s = std::max<int64_t>(0, (to_ms(now) - to_ms(since)) / 1000);
    char buf[32];
    if (s < 60)
        std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(s));
    else if (s < 3600)
        std::snprintf(buf, sizeof buf, "%lldm%02llds", static_cast<long long>(s / 60),
                      static_cast<long long>(s % 60));
    else if (s < 86400)
        std::snprintf(buf, sizeof buf, "%lldh%02lldm", static_cast<long long>(s / 3600),
                      static_cast<long long>(s % 3600 / 60));
    else
        std::snprintf(buf, sizeof buf, "%lldd%02lldh", static_cast<long long>(s / 86400),
                      static_cast<long long>(s % 86400 / 3600));
    return buf;
}

std::string status_text(std::vector<Job> jobs, const Ledger& ledger, const BudgetSettings& budget,
                        TimePoint now, bool all, const std::vector<Outline>& unread) {
    const auto counts = count_states(jobs, unread);
    const size_t total = count_jobs(counts);
    const size_t dropped = arrange(jobs, all) + unread.size();

    struct Row {
        std::string name, state, detail, age, cost, prompt;
    };
    std::vector<Row> rows;
    size_t name_w = 4, detail_w = 6;
    for (const auto& j : jobs) {
        Row r{j.spec.name,
              std::string(to_string(j.state)),
              detail(j),
              age(j.discovered, now),
              j.cost_usd > 0 ? usd(j.cost_usd) : "-",
              "\"" + one_line(j.spec.prompt, kPromptChars) + "\""};
        name_w = std::max(name_w, std::min<size_t>(r.name.size(), 40));
        detail_w = std::max(detail_w, r.detail.size());
        rows.push_back(std::move(r));
    }
    auto pad = [](const std::string& s, size_t w) {
        return s.size() < w ? s + std::string(w - s.size(), ' ') : s;
    };
    auto lpad = [](const std::string& s, size_t w) {
        return s.size() < w ? std::string(w - s.size(), ' ') + s : s;
    };
    std::string out;
    if (!rows.empty())
        rows.insert(rows.begin(), {"NAME", "STATE", "DETAIL", "AGE", "COST", "PROMPT"});
    for (const auto& r : rows)
        out += pad(r.name, name_w) + "  " + pad(r.state, 11) + "  " + pad(r.detail, detail_w) +
               "  " + lpad(r.age, 6) + "  " + lpad(r.cost, 7) + "  " + r.prompt + "\n";
    if (dropped > 0)
        out += "(" + std::to_string(dropped) + " older finished job" + (dropped == 1 ? "" : "s") +
               " not shown; --all shows them)\n";

    if (!rows.empty()) out += "\n";
    out += std::to_string(total) + (total == 1 ? " job" : " jobs");
    const char* sep = ": ";
    for (const auto& [state, n] : counts) {
        out += sep + std::to_string(n) + " " + std::string(to_string(state));
        sep = ", ";
    }
    out += "\nspent today " + cap(ledger.on_day(now), budget.usd_per_day, "per day") + "; total " +
           cap(ledger.total(), budget.usd_total, "in total") + "\n";
    return out;
}

json status_json(std::vector<Job> jobs, const Ledger& ledger, const BudgetSettings& budget,
                 TimePoint now, bool all, const std::vector<Outline>& unread) {
    const auto counts = count_states(jobs, unread);
    const size_t total = count_jobs(counts);
    const size_t dropped = arrange(jobs, all) + unread.size();

    json list = json::array();
    for (const auto& j : jobs) {
        json e = {{"name", j.spec.name},
                  {"id", j.id},
                  {"seq", j.seq},
                  {"state", to_string(j.state)},
                  {"why", j.why},
                  {"progress", j.progress},
                  {"provider", j.spec.provider},
                  {"model", j.spec.model},
                  {"seconds", j.spec.seconds},
                  {"size", to_string(j.spec.size)},
                  {"prompt", one_line(j.spec.prompt, kPromptChars)},
                  {"discovered_ms", to_ms(j.discovered)},
                  {"age_seconds", std::max<int64_t>(0, (to_ms(now) - to_ms(j.discovered)) / 1000)},
                  {"cost_usd", round_cents(j.cost_usd)},
                  {"output", j.state == State::delivered ? json(output_of(j)) : json()},
                  {"error", json()}};
        if (!j.parent.empty()) e["storyboard"] = j.parent;  // a shot names its storyboard's id
        if (j.error)
            e["error"] = {{"stage", j.error->stage},
                          {"code", j.error->code},
                          {"message", j.error->message},
                          {"retryable", j.error->retryable}};
        list.push_back(std::move(e));
    }
    json by_state = json::object();
    size_t active = 0;
    for (const auto& [state, n] : counts) {
        by_state[std::string(to_string(state))] = n;
        if (!is_terminal(state)) active += static_cast<size_t>(n);
    }
    return {{"jobs", std::move(list)},
            {"totals",
             {{"jobs", total}, {"active", active}, {"hidden", dropped}, {"by_state", by_state}}},
            {"spend",
             {{"today", round_cents(ledger.on_day(now))},
              {"total", round_cents(ledger.total())},
              {"usd_per_day", round_cents(budget.usd_per_day)},
              {"usd_total", round_cents(budget.usd_total)}}}};
}

int status(const Config& cfg, const StatusOptions& o) {
    auto render = [&] {
        // Unless all are shown, the finished jobs that are not are only counted.
        state_view::Overview v;
        if (o.all)
            v.jobs = state_view::jobs(cfg.paths.state);
        else
            v = state_view::overview(cfg.paths.state, kFinishedShown);
        auto ledger = state_view::ledger(cfg.paths.state);
        auto now = wall_now();
        const size_t waiting = manifests_in(cfg.paths.inbox);
        if (o.json) {
            auto j = status_json(std::move(v.jobs), ledger, cfg.budget, now, o.all, v.finished);
            j["totals"]["inbox"] = waiting;
            return j.dump() + "\n";
        }
        std::string text =
            status_text(std::move(v.jobs), ledger, cfg.budget, now, o.all, v.finished);
        if (waiting > 0)
            text += std::to_string(waiting) +
                    (waiting == 1 ? " manifest waits" : " manifests wait") +
                    " in the inbox (taken as jobs finish)\n";
        return text;
    };
    if (!o.watch) {
        std::fputs(render().c_str(), stdout);
        return cli::kOk;
    }
    // Ctrl-C ends the watch normally, so the exit code is 0 and the terminal is left tidy.
    g_stop = 0;
    auto old_int = std::signal(SIGINT, on_interrupt);
    auto old_term = std::signal(SIGTERM, on_interrupt);
    const bool tty = ::isatty(STDOUT_FILENO) == 1;
    while (!g_stop) {
        std::string text = render();
        if (tty) std::fputs("\033[H\033[2J", stdout);  // home, clear screen
        std::fputs(text.c_str(), stdout);
        if (!tty && !o.json) std::fputs("\n", stdout);
        std::fflush(stdout);
        for (int i = 0; i < 10 && !g_stop; ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    std::signal(SIGINT, old_int);
    std::signal(SIGTERM, old_term);
    return cli::kOk;
}

}  // namespace vd::manage
