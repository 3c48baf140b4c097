#include "daemon/daemon.hpp"

#include <dirent.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>

#include <spdlog/spdlog.h>

#include "daemon/daemon_impl.hpp"
#include "daemon/delivery.hpp"
#include "daemon/fail_job.hpp"
#include "daemon/fsutil.hpp"
#include "daemon/http_client.hpp"
#include "daemon/inbox_watcher.hpp"
#include "daemon/job_store.hpp"
#include "daemon/media_probe.hpp"
#include "daemon/metrics.hpp"
#include "daemon/sidecar.hpp"
#include "pipeline/engine.hpp"

namespace vd {

using namespace daemon_detail;

void Daemon::Impl::execute(const Commands& commands) {
    for (const auto& c : commands)
        std::visit([this](const auto& cmd) { carry_out(cmd); }, c);
}

void Daemon::Impl::carry_out(const Persist& p) {
    if (auto r = store->save(p.job); !r)
        spdlog::error("job={} could not be recorded: {}", p.job.spec.name, r.error());
}

void Daemon::Impl::carry_out(const RecordSpend& r) {
    if (auto ok = store->append_ledger(r.entry); !ok) spdlog::error("spend ledger: {}", ok.error());
}

void Daemon::Impl::carry_out(const SaveLimits& l) {
    if (auto r = store->save_limits(l.limits); !r) spdlog::error("limits: {}", r.error());
}

void Daemon::Impl::carry_out(const Log& l) {
    switch (l.level) {
        case Log::debug:
            spdlog::debug("{}", l.text);
            break;
        case Log::info:
            spdlog::info("{}", l.text);
            break;
        case Log::warn:
            spdlog::warn("{}", l.text);
            break;
        case Log::error:
            spdlog::error("{}", l.text);
            break;
    }
}

void Daemon::Impl::carry_out(const SendHttp& s) {
    http->send(s.request, [this, job = s.job, purpose = s.purpose](HttpResult r) {
        if (!r.request_id().empty()) spdlog::debug("job={} x-request-id {}", job, r.request_id());
        after(engine->on_http(job, purpose, r, clock_now()));
    });
}

void Daemon::Impl::carry_out(const Download& d) {
    std::string dest = delivery::tmp_path(cfg.paths, d.job, d.variant);
    DownloadLimits limits{d.max_bytes, d.min_bytes_per_second, d.low_speed_time, d.deadline};
    http->download(
        d.request, dest,
        [this, job = d.job, variant = d.variant](HttpResult r, int64_t bytes) {
            DownloadResult result{std::move(r), bytes};
            after(engine->on_download(job, variant, result, clock_now()));
        },
        limits);
}

void Daemon::Impl::carry_out(const Probe& p) {
    prober->probe(
        delivery::tmp_path(cfg.paths, p.job, "video"), p.level == VerifyLevel::decode,
        [this, job = p.job](MediaInfo info) { after(engine->on_probe(job, info, clock_now())); });
}

void Daemon::Impl::carry_out(const Deliver& d) {
    Job job = d.job;
    if (job.output_name.empty()) {
        // Chosen and recorded before any rename, so a restart publishes under the same name.
        job.output_name = delivery::choose_output_name(cfg.paths, job.spec.name);
        carry_out(Persist{job});
    }
    TimePoint now = clock_now();
    auto sidecar = make_sidecar(job, job.output_name, now, VD_VERSION);
    auto stem = delivery::publish(cfg.paths, job, sidecar);
    if (!stem) {
        spdlog::error(
            "job={} could not be published: {} (it stays ready and is published "
            "again at the next start)",
            job.spec.name, stem.error());
        return;
    }
    spdlog::info("job={} delivered: {}/{}.mp4", job.spec.name, cfg.paths.outbox, *stem);
    after(engine->on_delivered(job.id, *stem, now), false);
    (void)store->remove_claim(job.id);
    ++counts.delivered;
    if (const Job* done = engine->find(job.id); done && setup.on_finished) setup.on_finished(*done);
}

void Daemon::Impl::carry_out(const Fail& f) {
    const Job& job = f.job;
    auto moved = move_failed_job(cfg.paths, *store, job);
    if (!moved) {
        spdlog::error("job={} could not be moved to {}: {}", job.spec.name, cfg.paths.failed,
                      moved.error());
        return;
    }
    if (moved->empty()) return;  // moved already, before a restart
    JobError e = job.error.value_or(JobError::make("deliver", "unknown", ""));
    spdlog::warn("job={} -> {}/{}.error.json ({}: {})", job.spec.name, cfg.paths.failed, *moved,
                 e.stage, e.code);
    ++counts.failed;
    if (setup.on_finished) setup.on_finished(job);
}

// After any event: carry out its commands, let the engine start what may start now, arm the
// wake-up timer, and see whether a `once` run is done.
void Daemon::Impl::after(const Commands& commands, bool tick) {
    if (stopping) return;
    execute(commands);
    if (!tick) return;
    execute(engine->tick(clock_now()));
    arm_wake();
    maybe_finish();
}

void Daemon::Impl::arm_wake() {
    if (stopping) return;
    auto next = engine->next_wake();
    if (!next) {
        uv_timer_stop(wake);
        return;
    }
    auto delay = std::max<int64_t>(1, (*next - clock_now()).count());
    uv_timer_start(wake, &Impl::on_wake, static_cast<uint64_t>(delay), 0);
}

void Daemon::Impl::on_wake(uv_timer_t* t) {
    auto* self = static_cast<Impl*>(t->data);
    self->after({});
}

bool Daemon::Impl::busy() const {
    return http->active() > 0 || prober->pending() > 0 || fits->pending() > 0 ||
           watcher->tracked() > 0;
}

void Daemon::Impl::count_open() {
    counts.open = counts.budget_held = counts.paused = 0;
    for (const auto& [id, job] : engine->jobs()) {
        if (is_terminal(job.state)) continue;
        ++counts.open;
        if (job.state == State::waiting && job.why.starts_with("budget"))
            ++counts.budget_held;
        else if (job.state == State::waiting && engine->scheduler().paused(job.spec.provider))
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
        auto next = engine->next_wake();
        done = !next || *next > clock_now();
    }
    if (done) stop();
}

tl::expected<void, std::string> Daemon::Impl::start() {
    for (const auto* dir :
         {&cfg.paths.inbox, &cfg.paths.outbox, &cfg.paths.failed, &cfg.paths.state})
        if (auto r = fs::make_dirs(*dir); !r) return tl::unexpected(r.error());
    if (auto r = delivery::prepare(cfg.paths); !r) return tl::unexpected(r.error());
    auto opened = JobStore::open(cfg.paths.state);
    if (!opened) return tl::unexpected(opened.error());
    store.emplace(std::move(*opened));

    uint64_t seed = setup.seed ? setup.seed : uint64_t(clock_now().time_since_epoch().count());
    engine = std::make_unique<Engine>(settings_of(cfg, setup.keys), seed);
    http = std::make_unique<HttpClient>(loop, endpoints_of(cfg, setup.keys));
    prober = std::make_unique<MediaProber>(loop, 2);
    fits = std::make_unique<BoundedPool>(loop, 1);

    wake = new uv_timer_t;
    uv_timer_init(loop, wake);
    wake->data = this;
    cancels = new uv_timer_t;
    uv_timer_init(loop, cancels);
    cancels->data = this;

    auto records = store->load_all();
    for (const auto& p : records.problems)
        spdlog::error("state: {}", p);
    auto ledger = store->load_ledger();
    if (!ledger) spdlog::error("state: {}", ledger.error());
    std::vector<Job> jobs;
    for (auto& job : records.jobs) {
        // A finished job whose inputs are already in failed/ or whose outputs are published
        // needs nothing more.
        if (is_terminal(job.state) && !exists(store->claimed_dir(job.id))) continue;
        // Published and recorded, then stopped before its claim folder went: finish that.
        if (job.state == State::delivered) {
            if (auto r = store->remove_claim(job.id); !r) spdlog::error("state: {}", r.error());
            continue;
        }
        jobs.push_back(std::move(job));
    }
    if (!jobs.empty()) spdlog::info("state: resuming {} job(s)", jobs.size());
    std::string limits_problem;
    auto limits = store->load_limits(limits_problem);
    if (!limits_problem.empty()) spdlog::error("state: {}", limits_problem);
    execute(engine->restore(std::move(jobs), ledger ? *ledger : std::vector<LedgerEntry>{}, limits,
                            clock_now()));
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
    apply_cancels();
    uv_timer_start(cancels, &Impl::on_cancel_timer, kCancelPoll.count(), kCancelPoll.count());
    started = true;
    after({});
    write_metrics();
    return {};
}

void Daemon::Impl::stop() {
    if (stopping) return;
    stopping = true;
    if (watcher) watcher->stop();
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
    if (engine) count_open();
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
    for (const auto& [id, job] : impl_->engine->jobs()) {
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
    impl_->engine->reconfigure(settings_of(impl_->cfg, impl_->setup.keys));
    impl_->http->set_endpoints(endpoints_of(impl_->cfg, impl_->setup.keys));
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
