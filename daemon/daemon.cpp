#include "daemon/daemon.hpp"

#include <dirent.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>

#include <spdlog/spdlog.h>

#include "config/manifest.hpp"
#include "daemon/delivery.hpp"
#include "daemon/fail_job.hpp"
#include "daemon/fsutil.hpp"
#include "daemon/http_client.hpp"
#include "daemon/image_fit.hpp"
#include "daemon/inbox_watcher.hpp"
#include "daemon/job_store.hpp"
#include "daemon/media_probe.hpp"
#include "daemon/metrics.hpp"
#include "daemon/refetch.hpp"
#include "daemon/sha256.hpp"
#include "daemon/sidecar.hpp"
#include "pipeline/engine.hpp"

namespace vd {

namespace {

constexpr Millis kCancelPoll{1000};
constexpr int kMetricsEvery = 5;  // cancel polls between metrics writes

TimePoint clock_now() {
    return std::chrono::time_point_cast<Millis>(std::chrono::system_clock::now());
}

std::string stem_of(const std::string& filename) {
    auto dot = filename.rfind('.');
    return dot == std::string::npos ? filename : filename.substr(0, dot);
}

std::string base_name(const std::string& path) {
    auto slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

bool exists(const std::string& path) {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0;
}

std::vector<std::string> list_files(const std::string& dir) {
    std::vector<std::string> names;
    std::error_code ec;
    for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
        names.push_back(it->path().filename());
    return names;
}

std::map<std::string, ProviderEndpoint> endpoints_of(
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

Settings settings_of(const Config& cfg,
                     const std::map<std::string, std::vector<std::string>>& keys) {
    Settings s = cfg.settings();
    for (auto& [name, p] : s.providers)
        if (auto it = keys.find(name); it != keys.end() && !it->second.empty())
            p.key_count = static_cast<int>(it->second.size());
    return s;
}

}  // namespace

struct Daemon::Impl {
    uv_loop_t* loop;
    DaemonSetup setup;
    Config& cfg;
    std::optional<JobStore> store;
    std::unique_ptr<Engine> engine;
    std::unique_ptr<HttpClient> http;
    std::unique_ptr<InboxWatcher> watcher;
    std::unique_ptr<MediaProber> prober;
    uv_timer_t* wake = nullptr;     // heap: freed by close callbacks
    uv_timer_t* cancels = nullptr;  // also paces the metrics textfile
    int64_t ticks = 0;
    bool metrics_warned = false;
    bool stopping = false;
    bool started = false;
    RunSummary counts;

    Impl(uv_loop_t* l, DaemonSetup s) : loop(l), setup(std::move(s)), cfg(setup.config) {}

    // Commands ---------------------------------------------------------------------------------

    void execute(const Commands& commands) {
        for (const auto& c : commands)
            std::visit([this](const auto& cmd) { carry_out(cmd); }, c);
    }

    void carry_out(const Persist& p) {
        if (auto r = store->save(p.job); !r)
            spdlog::error("job={} could not be recorded: {}", p.job.spec.name, r.error());
    }

    void carry_out(const RecordSpend& r) {
        if (auto ok = store->append_ledger(r.entry); !ok)
            spdlog::error("spend ledger: {}", ok.error());
    }

    void carry_out(const SaveLimits& l) {
        if (auto r = store->save_limits(l.limits); !r) spdlog::error("limits: {}", r.error());
    }

    void carry_out(const Log& l) {
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

    void carry_out(const SendHttp& s) {
        http->send(s.request, [this, job = s.job, purpose = s.purpose](HttpResult r) {
            if (!r.request_id().empty())
                spdlog::debug("job={} x-request-id {}", job, r.request_id());
            after(engine->on_http(job, purpose, r, clock_now()));
        });
    }

    void carry_out(const Download& d) {
        std::string dest = delivery::tmp_path(cfg.paths, d.job, d.variant);
        http->download(d.request, dest,
                       [this, job = d.job, variant = d.variant](HttpResult r, int64_t bytes) {
                           DownloadResult result{std::move(r), bytes};
                           after(engine->on_download(job, variant, result, clock_now()));
                       });
    }

    void carry_out(const Probe& p) {
        prober->probe(delivery::tmp_path(cfg.paths, p.job, "video"), p.level == VerifyLevel::decode,
                      [this, job = p.job](MediaInfo info) {
                          after(engine->on_probe(job, info, clock_now()));
                      });
    }

    void carry_out(const Deliver& d) {
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
        if (const Job* done = engine->find(job.id); done && setup.on_finished)
            setup.on_finished(*done);
    }

    void carry_out(const Fail& f) {
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
    void after(const Commands& commands, bool tick = true) {
        if (stopping) return;
        execute(commands);
        if (!tick) return;
        execute(engine->tick(clock_now()));
        arm_wake();
        maybe_finish();
    }

    void arm_wake() {
        if (stopping) return;
        auto next = engine->next_wake();
        if (!next) {
            uv_timer_stop(wake);
            return;
        }
        auto delay = std::max<int64_t>(1, (*next - clock_now()).count());
        uv_timer_start(wake, &Impl::on_wake, static_cast<uint64_t>(delay), 0);
    }

    static void on_wake(uv_timer_t* t) {
        auto* self = static_cast<Impl*>(t->data);
        self->after({});
    }

    // Intake -----------------------------------------------------------------------------------

    // Every way out of intake (claimed, rejected, or lost to another process) may end a `once` run.
    void intake(const std::string& name) {
        intake_one(name);
        maybe_finish();
    }

    void intake_one(const std::string& name) {
        if (stopping) return;
        const std::string path = cfg.paths.inbox + "/" + name;
        auto spec = read_manifest(path, cfg.paths.inbox, cfg);
        std::vector<std::string> companions;
        // An image beside the manifest travels with it into the claim (and on to failed/). One
        // in a subfolder or behind a symlink may be shared by other manifests: it is copied.
        std::string image_name;
        bool copy_image = false;
        if (spec) {
            companions = spec->companion_files;
            if (!spec->image.empty()) {
                std::string given =
                    spec->image_original.empty() ? base_name(spec->image) : spec->image_original;
                image_name = base_name(given);
                struct stat st;
                std::string beside = cfg.paths.inbox + "/" + given;
                copy_image = given.find('/') != std::string::npos ||
                             ::lstat(beside.c_str(), &st) != 0 || !S_ISREG(st.st_mode);
                if (copy_image)
                    std::erase(companions, image_name);
                else if (std::find(companions.begin(), companions.end(), image_name) ==
                         companions.end())
                    companions.push_back(image_name);
            }
        }
        auto claim = store->claim(cfg.paths.inbox, name, companions);
        watcher->forget(name);
        if (!claim) {
            if (claim.error().kind != ClaimError::Kind::taken)
                spdlog::error("inbox: could not claim {}: {}", name, claim.error().message);
            return;
        }
        if (!spec) {
            std::string message;
            for (const auto& p : spec.error())
                message += (message.empty() ? "" : "; ") + p.format();
            reject(*claim, name, spec.error().front().code, message,
                   "fix the manifest and drop it into the inbox again");
            return;
        }
        spec->manifest_file = name;
        spec->companion_files = companions;
        if (!spec->image.empty()) {
            std::string original = claim->dir + "/" + image_name;
            if (copy_image) {
                std::error_code ec;
                std::filesystem::copy_file(spec->image, original,
                                           std::filesystem::copy_options::overwrite_existing, ec);
                if (ec) {
                    reject(*claim, name, "image_missing",
                           name + ": image: cannot copy " + spec->image + ": " + ec.message(),
                           "check that the image exists and is readable", spec->manifest);
                    return;
                }
                claim->companions.push_back(image_name);  // goes to failed/ with the manifest
            }
            spec->image_original = image_name;
            auto sha = sha256_file(original);
            if (!sha) {
                reject(*claim, name, "image_missing", sha.error(),
                       "drop the image beside the manifest", spec->manifest);
                return;
            }
            spec->image_sha256 = *sha;
            std::string fitted = claim->dir + "/.fitted.png";
            auto fit = fit_image(original, spec->size, spec->image_fit, fitted);
            if (!fit) {
                reject(*claim, name, "image_mismatch", name + ": image: " + fit.error(),
                       "resize the image, or set image_fit = \"cover\" or \"contain\"",
                       spec->manifest);
                return;
            }
            spec->image = fitted;
        }
        auto note = read_refetch_note(cfg.paths.state, spec->name);
        if (note && note->provider == spec->provider) {
            spec->refetch_video_id = note->video_id;
            spec->refetch_key_slot = note->key_slot;
        }
        after(engine->add(claim->id, std::move(*spec), clock_now()));
        // The job record holds the video id now; the note has done its work.
        if (note) remove_refetch_note(cfg.paths.state, note->name);
    }

    // Claims without a job record: a crash came between the claim and the first save, so
    // nothing was sent. Their files go back to the inbox and are taken (and validated) again.
    void return_orphans() {
        for (const auto& id : store->orphan_claims()) {
            std::vector<std::string> copies;
            // An image kept in a subfolder of the inbox was copied into the claim: drop the copy.
            std::string dir = store->claimed_dir(id);
            for (const auto& name : list_files(dir))
                if (is_manifest_name(name))
                    if (auto spec = read_manifest(dir + "/" + name, cfg.paths.inbox, cfg);
                        spec && spec->image_original.find('/') != std::string::npos)
                        copies.push_back(base_name(spec->image_original));
            auto moved = store->unclaim(id, cfg.paths.inbox, copies);
            if (!moved) {
                spdlog::error(
                    "state: claim {} has no job record and could not go back to the "
                    "inbox: {}",
                    id, moved.error());
                continue;
            }
            std::string names;
            for (const auto& n : *moved)
                names += (names.empty() ? "" : ", ") + n;
            spdlog::warn(
                "state: claim {} was cut short by a stop before its job was recorded; "
                "returned to the inbox: {}",
                id, names.empty() ? "nothing left to return" : names);
        }
    }

    // A manifest that cannot become a job: straight to failed/ with the reason.
    // `manifest` is the manifest as read, when it parsed.
    void reject(const Claim& claim, const std::string& name, const std::string& code,
                const std::string& message, const std::string& hint,
                const nlohmann::json& manifest = nullptr) {
        JobError e = JobError::make("validate", code, message, hint);
        std::vector<std::string> files{name};
        for (const auto& c : claim.companions)
            files.push_back(c);
        std::string stem = stem_of(name);
        auto moved = delivery::move_to_failed(cfg.paths, claim.dir, files, stem,
                                              make_error(stem, manifest, e));
        if (!moved) {
            spdlog::error("inbox: {} could not be moved to {}: {}", name, cfg.paths.failed,
                          moved.error());
            return;
        }
        (void)store->remove_claim(claim.id);
        spdlog::warn("inbox: {} rejected -> {}/{}.error.json: {}", name, cfg.paths.failed, *moved,
                     message);
        ++counts.failed;
        if (setup.on_finished) {
            Job job;
            job.id = claim.id;
            job.spec.name = stem;
            job.state = State::failed;
            job.error = e;
            setup.on_finished(job);
        }
    }

    void on_reject(const std::string& name, const std::string& reason) {
        if (stopping) return;
        auto claim = store->claim(cfg.paths.inbox, name, {});
        watcher->forget(name);
        if (!claim) {
            if (claim.error().kind != ClaimError::Kind::taken)
                spdlog::error("inbox: could not claim {}: {}", name, claim.error().message);
            maybe_finish();
            return;
        }
        reject(*claim, name, "rejected", name + ": " + reason,
               "drop a regular file (no symlink) with a valid name and size");
        maybe_finish();
    }

    // Cancel requests: `videodrop cancel NAME` leaves STATE/cancel/NAME.
    void apply_cancels() {
        std::string dir = cfg.paths.state + "/cancel";
        DIR* d = ::opendir(dir.c_str());
        if (!d) return;
        std::vector<std::string> names;
        while (dirent* e = ::readdir(d))
            if (e->d_name[0] != '.') names.emplace_back(e->d_name);
        ::closedir(d);
        for (const auto& name : names) {
            std::vector<std::string> ids;
            for (const auto& [id, job] : engine->jobs())
                if (job.spec.name == name && !is_terminal(job.state)) ids.push_back(id);
            for (const auto& id : ids) {
                spdlog::info("job={} cancelled by request", name);
                after(engine->cancel(id, clock_now()));
            }
            ::unlink((dir + "/" + name).c_str());
        }
    }

    static void on_cancel_timer(uv_timer_t* t) {
        auto* self = static_cast<Impl*>(t->data);
        self->apply_cancels();
        if (++self->ticks % kMetricsEvery == 0) self->write_metrics();
    }

    // [metrics] textfile: rewritten every few seconds and at stop; a failure is logged once.
    void write_metrics() {
        if (cfg.metrics_textfile.empty() || !engine) return;
        MetricsSnapshot m;
        for (int s = 0; s <= static_cast<int>(State::cancelled); ++s)
            m.jobs_by_state[std::string(to_string(static_cast<State>(s)))] = 0;
        for (const auto& [id, job] : engine->jobs())
            ++m.jobs_by_state[std::string(to_string(job.state))];
        m.delivered = counts.delivered;
        m.failed = counts.failed;
        TimePoint now = clock_now();
        m.spend_today_usd = engine->ledger().on_day(now);
        m.spend_total_usd = engine->ledger().total();
        for (const auto& [name, keys] : engine->scheduler().keys()) {
            m.provider_paused[name] = engine->scheduler().paused(name);
            int64_t sent = 0;
            for (const auto& k : keys)
                sent += k.creates_sent;
            m.creates_sent[name] = sent;
        }
        m.updated_unix_seconds = double(to_ms(now)) / 1000.0;
        auto written = fs::write_atomic(cfg.metrics_textfile, format_metrics(m));
        if (!written && !metrics_warned) {
            spdlog::warn("metrics: {} (the daemon carries on without them)", written.error());
            metrics_warned = true;
        } else if (written) {
            metrics_warned = false;
        }
    }

    // Ending a `once` run ------------------------------------------------------------------------

    bool busy() const {
        return http->active() > 0 || prober->pending() > 0 || watcher->tracked() > 0;
    }

    void count_open() {
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

    void maybe_finish() {
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

    // Start and stop -----------------------------------------------------------------------------

    tl::expected<void, std::string> start() {
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
            jobs.push_back(std::move(job));
        }
        if (!jobs.empty()) spdlog::info("state: resuming {} job(s)", jobs.size());
        std::string limits_problem;
        auto limits = store->load_limits(limits_problem);
        if (!limits_problem.empty()) spdlog::error("state: {}", limits_problem);
        execute(engine->restore(std::move(jobs), ledger ? *ledger : std::vector<LedgerEntry>{},
                                limits, clock_now()));
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

    void stop() {
        if (stopping) return;
        stopping = true;
        if (watcher) watcher->stop();
        if (http) http->shutdown();
        if (prober) prober->shutdown();
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
};

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
