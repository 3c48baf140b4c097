#include "daemon/daemon.hpp"

#include <dirent.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>

#include <spdlog/spdlog.h>

#include "daemon/daemon_impl.hpp"
#include "daemon/delivery.hpp"
#include "daemon/fsutil.hpp"
#include "daemon/http_client.hpp"
#include "daemon/inbox_watcher.hpp"
#include "daemon/job_store.hpp"
#include "daemon/media_probe.hpp"
#include "daemon/metrics.hpp"
#include "daemon/preflight.hpp"
#include "pipeline/engine.hpp"

namespace vd {

using namespace daemon_detail;

void Daemon::Impl::arm_wake() {
    if (stopping) return;
    auto next = exec->engine().next_wake();
    if (!next) {
        uv_timer_stop(wake);
        return;
    }
    auto delay = std::max<int64_t>(1, (*next - clock.now()).count());
    uv_timer_start(wake, &Impl::on_wake, static_cast<uint64_t>(delay), 0);
}

void Daemon::Impl::tick_soon() {
    if (stopping || uv_is_active(reinterpret_cast<uv_handle_t*>(ticker))) return;
    uint64_t now = uv_hrtime();
    uint64_t wait_ms = now >= next_tick_ns ? 0 : (next_tick_ns - now + 999'999) / 1'000'000;
    uv_timer_start(
        ticker,
        [](uv_timer_t* t) {
            auto* self = static_cast<Impl*>(t->data);
            if (!self->exec) return;
            uint64_t start = uv_hrtime();
            self->exec->tick();
            uint64_t end = uv_hrtime();
            uint64_t gap = std::min<uint64_t>((end - start) * (kTickShare - 1),
                                              uint64_t(kMaxTickGap.count()) * 1'000'000);
            self->next_tick_ns = end + gap;
        },
        wait_ms, 0);
}

void Daemon::Impl::on_wake(uv_timer_t* t) {
    auto* self = static_cast<Impl*>(t->data);
    self->after({});
}

bool Daemon::Impl::busy() const {
    return http->active() > 0 || prober->pending() > 0 || fits->pending() > 0 ||
           watcher->tracked() > 0 || !backlog.empty() || notifier->busy();
}

void Daemon::Impl::count_open() {
    counts.open = counts.budget_held = counts.paused = 0;
    counts.delivered = exec->delivered();
    counts.failed = exec->failed();
    for (const auto& [id, job] : exec->engine().jobs()) {
        if (is_terminal(job.state)) continue;
        ++counts.open;
        if (job.state == State::waiting && job.wait.kind == Wait::Kind::budget)
            ++counts.budget_held;
        else if (job.state == State::waiting &&
                 exec->engine().scheduler().paused(job.spec.provider))
            ++counts.paused;
    }
}

void Daemon::Impl::maybe_finish() {
    if (stopping || !started || setup.mode == RunMode::forever || busy()) return;
    count_open();
    bool done = false;
    if (setup.mode == RunMode::drain) {
        done = counts.open == counts.budget_held + counts.paused;
    } else {
        auto next = exec->engine().next_wake();
        done = !next || *next > clock.now();
    }
    if (done) stop();
}

tl::expected<void, std::string> Daemon::Impl::start() {
    if (auto problems = preflight(cfg.paths); !problems.empty()) {
        std::string text;
        for (const auto& p : problems)
            text += (text.empty() ? "" : "; ") + p;
        return tl::unexpected(text);
    }
    for (const auto* dir :
         {&cfg.paths.inbox, &cfg.paths.outbox, &cfg.paths.failed, &cfg.paths.state})
        if (auto r = fs::make_dirs(*dir); !r) return tl::unexpected(r.error());
    if (auto r = delivery::prepare(cfg.paths); !r) return tl::unexpected(r.error());
    auto opened = JobStore::open(cfg.paths.state);
    if (!opened) return tl::unexpected(opened.error());
    store.emplace(std::move(*opened));

    auto secret = load_webhook_secret(cfg.hooks, [](const std::string& name) {
        const char* v = std::getenv(name.c_str());
        return v ? std::optional<std::string>(v) : std::nullopt;
    });
    if (!secret) return tl::unexpected(secret.error());

    uint64_t seed = setup.seed ? setup.seed : uint64_t(clock.now().time_since_epoch().count());
    http = std::make_unique<HttpClient>(loop, endpoints_of(cfg, setup.keys));
    notifier =
        std::make_unique<Notifier>(loop, *http, NotifierSetup{cfg.hooks, *secret, cfg.paths.state},
                                   [this] { maybe_finish(); });
    prober = std::make_unique<MediaProber>(loop, 2);
    fits = std::make_unique<BoundedPool>(loop, 1);
    http_port = std::make_unique<CurlHttp>(*http);
    media_port = std::make_unique<ProbeMedia>(*prober);
    state_port = std::make_unique<StoreState>(*store);
    files_port = std::make_unique<FolderFiles>(cfg.paths, *store);
    Executor::Hooks hooks{
        setup.on_finished, [this] { settled(); },
        [this](const Job& job, const std::string& stem) { notifier->notify(job, cfg.paths, stem); },
        [this] { tick_soon(); }};
    exec = std::make_unique<Executor>(
        std::make_unique<Engine>(settings_of(cfg, setup.keys), seed),
        Ports{clock, *http_port, *media_port, *state_port, *files_port}, std::move(hooks));

    wake = new uv_timer_t;
    uv_timer_init(loop, wake);
    wake->data = this;
    cancels = new uv_timer_t;
    uv_timer_init(loop, cancels);
    cancels->data = this;
    metrics = new uv_timer_t;
    uv_timer_init(loop, metrics);
    metrics->data = this;
    ticker = new uv_timer_t;
    uv_timer_init(loop, ticker);
    ticker->data = this;

    auto records = store->load_all();
    for (const auto& p : records.problems)
        spdlog::error("state: {}", p);
    auto ledger = store->load_ledger();
    if (!ledger) spdlog::error("state: {}", ledger.error());
    std::string limits_problem;
    auto limits = store->load_limits(limits_problem);
    if (!limits_problem.empty()) spdlog::error("state: {}", limits_problem);
    notifier->scan();  // notices of earlier runs first: a restored outcome is not told twice
    exec->restore(std::move(records.jobs), ledger ? *ledger : std::vector<LedgerEntry>{}, limits);
    return_orphans();

    InboxOptions io;
    io.settle = cfg.intake.settle;
    io.rescan = cfg.intake.rescan;
    io.max_manifest_bytes = cfg.intake.max_manifest_bytes;
    watcher = std::make_unique<InboxWatcher>(
        loop, cfg.paths.inbox, io,
        InboxCallbacks{
            [this](const std::string& n) { intake(n); },
            [this](const std::string& n, const std::string& why) { on_reject(n, why); }});
    watcher->start();
    watcher->scan_now();
    watch_requests();
    apply_cancels();
    arm_metrics();
    started = true;
    after({});
    write_metrics();
    return {};
}

void Daemon::Impl::arm_metrics() {
    if (cfg.metrics_textfile.empty())
        uv_timer_stop(metrics);
    else if (!uv_is_active(reinterpret_cast<uv_handle_t*>(metrics)))
        uv_timer_start(metrics, &Impl::on_metrics_timer, kMetricsEvery.count(),
                       kMetricsEvery.count());
}

void Daemon::Impl::stop() {
    if (stopping) return;
    stopping = true;
    unwatch_requests();
    if (exec) exec->stop();
    if (watcher) watcher->stop();
    if (notifier) notifier->shutdown();
    if (http) http->shutdown();
    if (prober) prober->shutdown();
    if (fits) fits->shutdown();
    auto close_timer = [](uv_timer_t*& t) {
        if (!t) return;
        uv_timer_stop(t);
        uv_close(reinterpret_cast<uv_handle_t*>(t),
                 [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
        t = nullptr;
    };
    close_timer(wake);
    close_timer(cancels);
    close_timer(metrics);
    close_timer(ticker);
    if (exec) count_open();
    write_metrics();
}

Daemon::Daemon(uv_loop_t* loop, DaemonSetup setup)
    : impl_(std::make_unique<Impl>(loop, std::move(setup))) {}

Daemon::~Daemon() {
    impl_->stop();
}

tl::expected<void, std::string> Daemon::start() {
    return impl_->start();
}

void Daemon::stop() {
    impl_->stop();
}

bool Daemon::stopped() const {
    return impl_->stopping;
}

RunSummary Daemon::summary() const {
    return impl_->counts;
}

// Jobs that reached their provider keep talking to it until they end: a reload that would pull
// the provider from under them (removed, another base URL, protocol or dialect, or fewer keys
// than the slot they were created with) is refused, naming them.
std::optional<std::string> Daemon::reload_conflict(
    const Config& config, const std::map<std::string, std::vector<std::string>>& keys) const {
    std::map<std::string, std::vector<std::string>> blocked;  // provider -> job names
    for (const auto& [id, job] : impl_->exec->engine().jobs()) {
        if (is_terminal(job.state) || job.first_submit == TimePoint{}) continue;
        const std::string& name = job.spec.provider;
        auto now_it = impl_->cfg.providers.find(name);
        auto next_it = config.providers.find(name);
        if (now_it == impl_->cfg.providers.end()) continue;
        std::string why;
        if (next_it == config.providers.end()) {
            why = "removes";
        } else {
            const ProviderSettings& a = now_it->second.core;
            const ProviderSettings& b = next_it->second.core;
            auto k = keys.find(name);
            size_t key_count = k == keys.end() ? 0 : k->second.size();
            if (a.base_url != b.base_url || a.protocol != b.protocol || !(a.dialect == b.dialect) ||
                (key_count > 0 && static_cast<size_t>(job.key_slot) >= key_count))
                why = "changes";
        }
        if (!why.empty()) blocked[why + " provider " + name].push_back(job.spec.name);
    }
    if (blocked.empty()) return std::nullopt;
    std::string text;
    for (const auto& [what, names] : blocked) {
        std::string list;
        for (size_t i = 0; i < names.size() && i < 10; ++i)
            list += (i ? ", " : "") + names[i];
        if (names.size() > 10) list += ", and " + std::to_string(names.size() - 10) + " more";
        text += (text.empty() ? "" : "; ") + std::string("the new configuration ") + what +
                ", which jobs in flight still use (" + list + ")";
    }
    return text + "; reload again once they have finished (`videodrop status`)";
}

tl::expected<void, std::string> Daemon::reload(
    Config config, std::map<std::string, std::vector<std::string>> keys) {
    if (auto conflict = reload_conflict(config, keys)) return tl::unexpected(*conflict);
    if (config.paths.inbox != impl_->cfg.paths.inbox ||
        config.paths.state != impl_->cfg.paths.state ||
        config.paths.outbox != impl_->cfg.paths.outbox ||
        config.paths.failed != impl_->cfg.paths.failed)
        spdlog::warn("reload: [paths] changes take effect at the next start");
    config.paths = impl_->cfg.paths;
    impl_->cfg = std::move(config);
    impl_->setup.keys = std::move(keys);
    impl_->exec->engine().reconfigure(settings_of(impl_->cfg, impl_->setup.keys));
    impl_->http->set_endpoints(endpoints_of(impl_->cfg, impl_->setup.keys));
    if (auto secret = load_webhook_secret(impl_->cfg.hooks, [](const std::string& name) {
            const char* v = std::getenv(name.c_str());
            return v ? std::optional<std::string>(v) : std::nullopt;
        }))
        impl_->notifier->reconfigure({impl_->cfg.hooks, *secret, impl_->cfg.paths.state});
    else
        spdlog::error("reload: [hooks] kept as they were: {}", secret.error());
    impl_->arm_metrics();
    spdlog::info("reload: configuration from {} applied", impl_->cfg.source);
    impl_->after({});
    return {};
}

tl::expected<std::map<std::string, std::vector<std::string>>, std::string> load_all_keys(
    const Config& config) {
    std::map<std::string, std::vector<std::string>> out;
    EnvLookup env = [](const std::string& name) -> std::optional<std::string> {
        const char* v = std::getenv(name.c_str());
        return v ? std::optional<std::string>(v) : std::nullopt;
    };
    for (const auto& [name, p] : config.providers) {
        auto keys = load_keys(p, env);
        if (!keys) return tl::unexpected("provider " + name + ": " + keys.error());
        out[name] = std::move(*keys);
    }
    return out;
}

}  // namespace vd
