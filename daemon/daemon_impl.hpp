// The daemon's state and its parts, shared by daemon.cpp (start, stop, the wake-up timer, reload)
// and daemon_intake.cpp (the inbox, cancel requests, the metrics file). The engine's commands are
// carried out by the executor (daemon/executor.hpp) on the real ports. Private to the daemon.
#pragma once

#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "daemon/daemon.hpp"
#include "daemon/executor.hpp"
#include "daemon/http_client.hpp"
#include "daemon/inbox_watcher.hpp"
#include "daemon/job_store.hpp"
#include "daemon/media_probe.hpp"
#include "daemon/notifier.hpp"
#include "daemon/real_ports.hpp"
#include "pipeline/engine.hpp"

namespace vd {

namespace daemon_detail {

inline constexpr Millis kCancelPoll{1000};     // where STATE/cancel cannot be watched
inline constexpr Millis kRequestDebounce{50};  // a burst of changes there becomes one look
// A tick looks at every job at work, so under a stream of answers one tick per answer would cost
// the queue's length each time: after a tick that took T, the next waits 19 T (ticks then take
// at most 5% of a core), never more than kMaxTickGap. A short queue ticks at once.
inline constexpr int kTickShare = 20;
inline constexpr Millis kMaxTickGap{25};
// The metrics textfile, when set, is rewritten this often.
inline constexpr Millis kMetricsEvery{5000};

inline std::string stem_of(const std::string& filename) {
    auto dot = filename.rfind('.');
    return dot == std::string::npos ? filename : filename.substr(0, dot);
}

inline std::string base_name(const std::string& path) {
    auto slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

inline std::vector<std::string> list_files(const std::string& dir) {
    std::vector<std::string> names;
    std::error_code ec;
    for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
        names.push_back(it->path().filename());
    return names;
}

inline std::map<std::string, ProviderEndpoint> endpoints_of(
    const Config& cfg, const std::map<std::string, std::vector<std::string>>& keys) {
    std::map<std::string, ProviderEndpoint> out;
    for (const auto& [name, p] : cfg.providers) {
        ProviderEndpoint e;
        e.base_url = p.core.base_url;
        e.auth = p.core.dialect.auth;
        e.proxy = p.proxy;
        if (auto it = keys.find(name); it != keys.end()) e.keys = it->second;
        out[name] = std::move(e);
    }
    return out;
}

inline Settings settings_of(const Config& cfg,
                            const std::map<std::string, std::vector<std::string>>& keys) {
    Settings s = cfg.settings();
    for (auto& [name, p] : s.providers)
        if (auto it = keys.find(name); it != keys.end() && !it->second.empty())
            p.key_count = static_cast<int>(it->second.size());
    return s;
}

}  // namespace daemon_detail

struct Daemon::Impl {
    uv_loop_t* loop;
    DaemonSetup setup;
    Config& cfg;
    std::optional<JobStore> store;
    std::unique_ptr<HttpClient> http;
    std::unique_ptr<InboxWatcher> watcher;
    std::unique_ptr<MediaProber> prober;
    std::unique_ptr<BoundedPool> fits;  // reference images being fitted, one at a time
    // The ports the executor acts through, and the executor with the engine.
    SystemClock clock;
    std::unique_ptr<CurlHttp> http_port;
    std::unique_ptr<ProbeMedia> media_port;
    std::unique_ptr<StoreState> state_port;
    std::unique_ptr<FolderFiles> files_port;
    std::unique_ptr<Executor> exec;
    std::unique_ptr<Notifier> notifier;  // [hooks]: argv and webhook on every outcome
    uv_timer_t* wake = nullptr;          // heap: freed by close callbacks
    uv_timer_t* ticker = nullptr;        // the tick after this loop turn's events
    uint64_t next_tick_ns = 0;           // uv_hrtime() before which no tick starts
    uv_timer_t* cancels = nullptr;  // takes cancel requests and notices a moment after a change
    uv_fs_event_t* request_watches[2] = {nullptr, nullptr};  // STATE/cancel, STATE/notify
    uv_timer_t* metrics = nullptr;                           // rewrites the [metrics] textfile
    bool metrics_warned = false;
    bool stopping = false;
    bool started = false;
    RunSummary counts;
    Impl(uv_loop_t* l, DaemonSetup s) : loop(l), setup(std::move(s)), cfg(setup.config) {}

    // Events ---------------------------------------------------------------------------------

    // After any event: the executor carries out its commands and lets the engine start what may
    // start now; then the wake-up timer is armed and a `once` run may end.
    void after(const Commands& commands, bool tick = true) {
        if (exec) exec->after(commands, tick);
    }
    void settled() {
        arm_wake();
        take_backlog();
        maybe_finish();
    }
    void arm_wake();
    static void on_wake(uv_timer_t* t);
    // One tick for all the events of a loop turn (see Executor::Hooks::tick_soon).
    void tick_soon();

    // Intake -----------------------------------------------------------------------------------

    // Every way out of intake (claimed, rejected, or lost to another process) may end a `once` run.
    void intake(const std::string& name);
    void intake_one(const std::string& name);
    std::vector<std::string> images_of_rejected(const std::string& manifest) const;
    void admit(const Claim& claim, JobSpec spec);

    // Claims without a job record: a crash came between the claim and the first save, so
    // nothing was sent. Their files go back to the inbox and are taken (and validated) again.
    void return_orphans();

    // A manifest that cannot become a job: straight to failed/ with the reason.
    // `manifest` is the manifest as read, when it parsed.
    void reject(const Claim& claim, const std::string& name, const std::string& code,
                const std::string& message, const std::string& hint,
                const nlohmann::json& manifest = nullptr);
    void on_reject(const std::string& name, const std::string& reason);

    // Backlog (daemon/daemon_backlog.cpp): a ready manifest is claimed while fewer than
    // claim_window() jobs are at work; the rest wait in the inbox, unclaimed, and are taken
    // highest priority first, then oldest, as jobs finish. The inbox is the queue: memory
    // stays flat however many manifests are dropped, and a crash leaves them where they were.
    struct Waiting {
        int priority = 0;
        uint64_t order = 0;
        std::string name;
        bool operator<(const Waiting& o) const {
            return priority != o.priority ? priority > o.priority : order < o.order;
        }
    };
    std::set<Waiting> backlog;
    uint64_t backlog_order = 0;
    size_t claim_window() const;
    bool window_full();
    // Keeps a ready manifest in the inbox when the window is full; true when it did.
    bool hold(const std::string& name, int priority);
    void take_backlog();

    // Cancel requests: `videodrop cancel NAME` leaves STATE/cancel/NAME.
    void apply_cancels();
    // Watches both folders; where a watch cannot be set, polls them every kCancelPoll instead.
    void watch_requests();
    void unwatch_requests();
    static void on_cancel_timer(uv_timer_t* t);
    static void on_request_event(uv_fs_event_t* handle, const char* name, int events, int status);

    // [metrics] textfile: rewritten every few seconds and at stop; a failure is logged once.
    void write_metrics();
    static void on_metrics_timer(uv_timer_t* t);
    void arm_metrics();  // the periodic rewrite runs only while a metrics file is set

    // Ending a `once` run ------------------------------------------------------------------------

    bool busy() const;
    void count_open();
    void maybe_finish();

    // Start and stop -----------------------------------------------------------------------------

    tl::expected<void, std::string> start();
    void stop();
};

}  // namespace vd
