#include "pipeline/engine.hpp"

#include <algorithm>
#include <charconv>

#include "pipeline/engine_util.hpp"

namespace vd {

namespace {
constexpr Millis kBudgetRecheck{60 * 1000};
constexpr size_t kMaxParallelDownloads = 6;
// One slow or hostile host never holds every download slot.
constexpr size_t kMaxDownloadsPerHost = 4;

}  // namespace

using namespace engine_detail;

Engine::Engine(Settings settings, uint64_t seed)
    : settings_(std::move(settings)), rng_(seed ? seed : 0x9E3779B97F4A7C15ULL) {
    sched_.configure(settings_.providers);
}

void Engine::reconfigure(Settings settings) {
    settings_ = std::move(settings);
    sched_.configure(settings_.providers);
}

double Engine::jitter() {
    // splitmix64: deterministic from the seed the shell passes in.
    rng_ += 0x9E3779B97F4A7C15ULL;
    uint64_t z = rng_;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    return double(z >> 11) * 0x1.0p-53;
}

const ProviderSettings* Engine::provider(const Job& job) const {
    auto it = settings_.providers.find(job.spec.provider);
    return it == settings_.providers.end() ? nullptr : &it->second;
}

const Job* Engine::find(const std::string& id) const {
    auto it = jobs_.find(id);
    return it == jobs_.end() ? nullptr : &it->second;
}

void Engine::forget_finished() {
    auto done = [this](const Job& job) {
        if (!is_terminal(job.state)) return false;
        if (job.parent.empty()) return true;
        auto parent = jobs_.find(job.parent);  // a shot: kept while its storyboard is at work
        return parent == jobs_.end() || is_terminal(parent->second.state);
    };
    for (auto it = jobs_.begin(); it != jobs_.end();) {
        if (!done(it->second)) {
            ++it;
            continue;
        }
        ++finished_[it->second.state];
        it = jobs_.erase(it);
    }
}

void Engine::refund(Job& job, TimePoint now, Commands& out) {
    if (!job.charged) return;
    LedgerEntry e{now, job.id, -job.cost_usd};
    ledger_.add(e);
    out.push_back(RecordSpend{e});
    job.charged = false;
}

const protocol::Protocol* Engine::protocol_of(const ProviderSettings& p) const {
    return protocol::find(p.protocol);
}

const ProviderSettings* Engine::provider_or_fail(Job& job, Commands& out) {
    if (const ProviderSettings* p = provider(job)) return p;
    JobError e = JobError::make(
        is_submitted(job) ? "generate" : "validate", "provider_gone",
        "provider '" + job.spec.provider + "' is no longer configured" +
            (job.video_id.empty() ? "" : "; its video " + job.video_id + " was not fetched"),
        "add [providers." + job.spec.provider + "] back, then `videodrop retry NAME`");
    e.video_id = job.video_id;
    fail(job, std::move(e), out);
    return nullptr;
}

Commands Engine::add(const std::string& id, JobSpec spec, TimePoint now) {
    Commands out;
    Job job;
    job.id = id;
    job.spec = std::move(spec);
    job.seq = next_seq_++;
    job.discovered = now;
    job.next_action = now;
    const ProviderSettings* p = provider(job);
    if (p) {
        job.cost_usd = estimate_cost(job.spec, *p);
        job.protocol = p->protocol;
    }
    out.push_back(job_log(Log::info, job,
                          " claimed (" + job.spec.model + ", " + std::to_string(job.spec.seconds) +
                              "s, " + to_string(job.spec.size) + ", " + usd(job.cost_usd) + ")"));
    auto& stored = jobs_[id] = std::move(job);
    if (!p) {
        fail(stored,
             JobError::make(
                 "validate", "unknown_provider",
                 "provider '" + stored.spec.provider + "' is not configured",
                 "add a [providers." + stored.spec.provider + "] table or change the manifest"),
             out);
        return out;
    }
    if (!protocol_of(*p)) {
        fail(stored,
             JobError::validate("unsupported_protocol",
                                "protocol \"" + p->protocol + "\" of provider '" + p->name +
                                    "' is not supported by this build",
                                "use a provider with a protocol `videodrop validate` accepts"),
             out);
        return out;
    }
    if (!stored.spec.refetch_video_id.empty()) {
        // Generated and paid for by an earlier job of this name: fetch it, create nothing.
        stored.video_id = stored.spec.refetch_video_id;
        stored.key_slot = stored.spec.refetch_key_slot;
        stored.first_submit = now;
        stored.submit_sent = now;
        enter(stored, State::downloading,
              "video " + stored.video_id + " was paid for already; fetching it again", out);
        return out;
    }
    if (auto e = never_affordable(stored)) {
        fail(stored, std::move(*e), out);
        return out;
    }
    out.push_back(Persist{stored});
    return out;
}

Commands Engine::on_http(const std::string& id, Purpose purpose, const HttpResult& r,
                         TimePoint now) {
    Commands out;
    if (purpose == Purpose::check) {
        on_check(id, r, now, out);
        return out;
    }
    auto it = jobs_.find(id);
    if (it == jobs_.end() || is_terminal(it->second.state)) {
        out.push_back(log(Log::debug, "answer for finished job " + id + " ignored"));
        return out;
    }
    Job& job = it->second;
    job.awaiting = false;
    switch (purpose) {
        case Purpose::create:
            on_create(job, r, now, out);
            break;
        case Purpose::poll:
            on_poll(job, r, now, out);
            break;
        case Purpose::list:
            on_list(job, r, now, out);
            break;
        case Purpose::check:
            break;
    }
    return out;
}
Commands Engine::cancel(const std::string& id, TimePoint now) {
    Commands out;
    auto it = jobs_.find(id);
    if (it == jobs_.end() || is_terminal(it->second.state)) return out;
    Job& job = it->second;
    bool before_submit = job.state == State::claimed || job.state == State::waiting;
    // A job past its create may have been billed (the provider has no cancel call), so its
    // charge stays in the ledger; only one that never reached the provider gets it back. A job
    // waiting to create again after a lost answer keeps it too: the first create may exist.
    if (before_submit && job.resubmits == 0) refund(job, now, out);
    JobError e = JobError::make(before_submit ? "submit" : "generate", "cancelled",
                                "cancelled by the user", "`videodrop retry NAME` submits it again");
    if (!before_submit)
        e.message += "; the provider has no cancel call, so its result is discarded";
    job.error = e;
    enter(job, State::cancelled, "by the user", out);
    for (const auto& shot : job.children) {  // a storyboard's shots stop with it
        auto s = jobs_.find(shot);
        if (s == jobs_.end() || is_terminal(s->second.state)) continue;
        if ((s->second.state == State::claimed || s->second.state == State::waiting) &&
            s->second.resubmits == 0)
            refund(s->second, now, out);
        s->second.error = e;
        enter(s->second, State::cancelled, "its storyboard was cancelled", out);
    }
    return out;
}

Commands Engine::tick(TimePoint now) {
    Commands out;
    sched_wake_.reset();
    // Deadlines: job_timeout counts from the first create, whatever the job is doing since.
    for (auto& [id, job] : jobs_)
        enforce_deadline(job, now, out);
    // Storyboards take what their shots did since.
    for (auto& [id, job] : jobs_)
        if (!job.children.empty()) advance_storyboard(job, now, out);
    // Downloads first, those whose links expire soonest first.
    std::vector<Job*> downloads;
    size_t downloading = 0;
    std::map<std::string, size_t> per_host;
    auto host_of = [this](const Job& job) {
        if (!job.result_url.empty()) return origin(job.result_url);
        const ProviderSettings* p = provider(job);
        return p ? origin(p->base_url) : std::string();
    };
    for (auto& [id, job] : jobs_) {
        if (job.state != State::downloading) continue;
        if (job.awaiting) {
            ++downloading;
            ++per_host[host_of(job)];
        } else if (job.next_action <= now) {
            downloads.push_back(&job);
        }
    }
    std::sort(downloads.begin(), downloads.end(), [](const Job* a, const Job* b) {
        auto ea = a->expires.value_or(TimePoint::max()), eb = b->expires.value_or(TimePoint::max());
        return ea != eb ? ea < eb : a->seq < b->seq;
    });
    for (Job* job : downloads) {
        if (downloading >= kMaxParallelDownloads) break;
        size_t& on_host = per_host[host_of(*job)];
        if (on_host >= kMaxDownloadsPerHost) continue;
        start_download(*job, now, out);
        ++downloading;
        ++on_host;
    }
    // Polls and reconciling lists that are due.
    for (auto& [id, job] : jobs_) {
        if (job.awaiting || job.next_action > now) continue;
        if (job.state != State::queued && job.state != State::in_progress &&
            job.state != State::reconciling)
            continue;
        const ProviderSettings* p = provider_or_fail(job, out);
        if (!p) continue;
        const protocol::Protocol& proto = *protocol_of(*p);
        job.awaiting = true;
        if (job.state == State::reconciling && !proto.lists(*p)) {
            job.awaiting = false;
            lost_unlistable(job, proto, *p, out);
        } else if (job.state == State::reconciling) {
            job.list_pages = 0;
            out.push_back(SendHttp{id, Purpose::list, proto.list(*p, "", job.key_slot)});
        } else {
            out.push_back(SendHttp{id, Purpose::poll, status_request(job, *p)});
        }
    }
    // Credentials of paused keys, now and then.
    for (const auto& [name, keys] : sched_.keys()) {
        auto pit = settings_.providers.find(name);
        if (pit == settings_.providers.end()) continue;
        for (int slot = 0; slot < static_cast<int>(keys.size()); ++slot) {
            std::string target = check_target(name, slot);
            if (!keys[slot].paused || keys[slot].next_check > now || checking_.count(target))
                continue;
            const protocol::Protocol* proto = protocol_of(pit->second);
            if (!proto) continue;
            checking_.insert(target);
            out.push_back(SendHttp{target, Purpose::check, proto->credentials(pit->second, slot)});
        }
    }
    // Submits: priority, then arrival.
    std::vector<Job*> candidates;
    for (auto& [id, job] : jobs_)
        if ((job.state == State::claimed || job.state == State::waiting) &&
            job.next_action <= now && !job.awaiting && job.children.empty() && !job.needs_frame)
            candidates.push_back(&job);
    std::sort(candidates.begin(), candidates.end(), [](const Job* a, const Job* b) {
        return a->spec.priority != b->spec.priority ? a->spec.priority > b->spec.priority
                                                    : a->seq < b->seq;
    });
    std::map<std::string, Scheduler::Decision> blocked;
    for (size_t i = 0; i < candidates.size(); ++i) {
        Job* job = candidates[i];
        // Each once: a storyboard's shots join the list when it starts, and may be on it already.
        if ((job->state != State::claimed && job->state != State::waiting) || job->awaiting)
            continue;
        if (!job->spec.shots.empty() && shots_reserved(*job)) {  // a crash cut its start short
            start_storyboard(*job, now, out);
            continue;
        }
        if (!provider_or_fail(*job, out)) continue;
        if (auto e = never_affordable(*job)) {
            fail(*job, std::move(*e), out);
            continue;
        }
        auto why =
            job->charged ? std::nullopt : ledger_.refuse(job->cost_usd, now, settings_.budget);
        if (why) {
            if (why->find("usd_per_day") != std::string::npos)
                *why += "; waits for the next UTC day (" +
                        iso8601_utc(std::chrono::ceil<std::chrono::days>(now + Millis{1})) + ")";
            job->next_action = now + kBudgetRecheck;
            enter(*job, State::waiting, Wait::budget(std::move(*why)), out);
            continue;
        }
        if (!job->spec.shots.empty()) {  // its whole cost fits: the shots take it from here
            start_storyboard(*job, now, out);
            for (const auto& id : job->children)  // ready shots may go in this same tick
                if (Job& shot = jobs_.at(id); shot.state == State::claimed && !shot.needs_frame)
                    candidates.push_back(&shot);
            continue;
        }
        auto b = blocked.find(job->spec.provider);
        Scheduler::Decision d =
            b != blocked.end() ? b->second : sched_.can_submit(job->spec.provider, now);
        if (!d.slot) {
            blocked[job->spec.provider] = d;
            if (d.retry_at != TimePoint::max())
                sched_wake_ = std::min(sched_wake_.value_or(TimePoint::max()), d.retry_at);
            enter(*job, State::waiting, d.why, out);
            continue;
        }
        start_submit(*job, *d.slot, now, out);
    }
    last_tick_ = now;
    return out;
}

std::optional<TimePoint> Engine::next_wake() const {
    std::optional<TimePoint> wake = sched_wake_;
    auto consider = [&](TimePoint t) { wake = std::min(wake.value_or(TimePoint::max()), t); };
    for (const auto& [id, job] : jobs_) {
        bool answer_due =
            job.awaiting && (job.state == State::submitting || job.state == State::verifying);
        if (is_submitted(job) && !is_terminal(job.state) && job.state != State::delivering &&
            !answer_due)
            consider(job.first_submit + settings_.polling.job_timeout);
        if (is_terminal(job.state) || job.awaiting) continue;
        switch (job.state) {
            case State::claimed:
            case State::waiting:
                // Evaluated at the last tick; only a later not-before wakes the loop.
                if (job.next_action > last_tick_) consider(job.next_action);
                break;
            case State::queued:
            case State::in_progress:
            case State::reconciling:
                consider(job.next_action);
                break;
            case State::downloading:
                // A due download not started at the last tick waits for a free download slot,
                // which an answer (not a time) brings.
                if (job.next_action > last_tick_) consider(job.next_action);
                break;
            default:
                break;
        }
    }
    for (const auto& [name, keys] : sched_.keys())
        for (int slot = 0; slot < static_cast<int>(keys.size()); ++slot)
            if (keys[slot].paused && !checking_.count(check_target(name, slot)))
                consider(keys[slot].next_check);
    return wake;
}

bool Engine::idle() const {
    return std::all_of(jobs_.begin(), jobs_.end(),
                       [](const auto& kv) { return is_terminal(kv.second.state); });
}

bool Engine::only_budget_held() const {
    bool any = false;
    for (const auto& [id, job] : jobs_) {
        if (is_terminal(job.state)) continue;
        if (job.state != State::waiting || job.wait.kind != Wait::Kind::budget) return false;
        any = true;
    }
    return any;
}

}  // namespace vd