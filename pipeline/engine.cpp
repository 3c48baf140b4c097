#include "pipeline/engine.hpp"

#include <algorithm>
#include <charconv>

#include "pipeline/engine_util.hpp"

namespace vd {

namespace {
constexpr Millis kCredentialCheck{60 * 1000};
constexpr Millis kBudgetRecheck{60 * 1000};
constexpr size_t kMaxParallelDownloads = 4;

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

void Engine::transition(Job& job, State to, std::string why, Commands& out) {
    State from = job.state;
    if (from == to && job.why == why) return;
    if (is_in_flight(from) && !is_in_flight(to)) sched_.on_release(job.spec.provider, job.key_slot);
    if (!is_in_flight(from) && is_in_flight(to)) sched_.on_acquire(job.spec.provider, job.key_slot);
    std::string text = "job=" + job.spec.name + " " + std::string(to_string(from)) + " -> " +
                       std::string(to_string(to));
    if (!why.empty()) text += " (" + why + ")";
    out.push_back(log(from == to ? Log::debug : Log::info, std::move(text)));
    job.state = to;
    job.why = std::move(why);
}

void Engine::refund(Job& job, TimePoint now, Commands& out) {
    if (!job.charged) return;
    LedgerEntry e{now, job.id, -job.cost_usd};
    ledger_.add(e);
    out.push_back(RecordSpend{e});
    job.charged = false;
}

void Engine::fail(Job& job, JobError error, Commands& out) {
    if (error.hint.empty()) error.hint = hint_for(error.code);
    transition(job, State::failed, error.stage + ": " + error.code, out);
    out.push_back(log(Log::warn, "job=" + job.spec.name + " failed at " + error.stage + ": " +
                                     error.code + ": " + error.message));
    job.error = std::move(error);
    job.awaiting = false;
    out.push_back(Persist{job});
    out.push_back(Fail{job});
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

std::optional<JobError> Engine::never_affordable(const Job& job, TimePoint now) const {
    (void)now;
    if (job.charged) return std::nullopt;
    // Reservations of creates whose outcome is still open may come back; everything else in
    // the ledger is spent for good.
    double refundable = 0;
    for (const auto& [id, other] : jobs_)
        if (other.charged && (other.state == State::submitting ||
                              other.state == State::reconciling || other.state == State::waiting))
            refundable += other.cost_usd;
    auto why = ledger_.never_fits(job.cost_usd, refundable, settings_.budget);
    if (!why) return std::nullopt;
    return JobError::make("budget", "over_budget", *why,
                          "lower the job's seconds or model, or raise the cap in [budget]");
}

void Engine::save_limits(TimePoint now, Commands& out) {
    out.push_back(SaveLimits{sched_.snapshot(now)});
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
    if (p) job.cost_usd = estimate_cost(job.spec, *p);
    out.push_back(log(Log::info, "job=" + job.spec.name + " claimed (" + job.spec.model + ", " +
                                     std::to_string(job.spec.seconds) + "s, " +
                                     to_string(job.spec.size) + ", " + usd(job.cost_usd) + ")"));
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
    if (p->protocol == "chat-sse") {
        fail(stored,
             JobError::make(
                 "validate", "unsupported_protocol",
                 "protocol \"chat-sse\" of provider '" + p->name + "' is not supported yet",
                 "use a provider with protocol = \"openai-videos\""),
             out);
        return out;
    }
    if (!stored.spec.refetch_video_id.empty()) {
        // Generated and paid for by an earlier job of this name: fetch it, create nothing.
        stored.video_id = stored.spec.refetch_video_id;
        stored.key_slot = stored.spec.refetch_key_slot;
        stored.first_submit = now;
        stored.submit_sent = now;
        transition(stored, State::downloading,
                   "video " + stored.video_id + " was paid for already; fetching it again", out);
        out.push_back(Persist{stored});
        return out;
    }
    if (auto e = never_affordable(stored, now)) {
        fail(stored, std::move(*e), out);
        return out;
    }
    out.push_back(Persist{stored});
    return out;
}

Commands Engine::restore(std::vector<Job> jobs, std::vector<LedgerEntry> ledger,
                         const nlohmann::json& limits, TimePoint now) {
    Commands out;
    for (const auto& e : ledger)
        ledger_.add(e);
    sched_.restore(limits, now);
    std::sort(jobs.begin(), jobs.end(), [](const Job& a, const Job& b) { return a.seq < b.seq; });
    for (auto& job : jobs) {
        next_seq_ = std::max(next_seq_, job.seq + 1);
        if (job.state == State::delivered) continue;
        if (job.first_submit == TimePoint{} && job.submit_sent != TimePoint{})
            job.first_submit = job.submit_sent;  // a record from before first_submit existed
        State was = job.state;
        switch (job.state) {
            case State::submitting:
                // The create may or may not have reached the provider: never resend blindly.
                job.state = State::reconciling;
                job.why = "restarted while the create was on the wire";
                if (job.ambiguity.empty())
                    job.ambiguity = "no answer recorded (videodrop stopped while it was sent)";
                job.reconcile_passes = 0;
                job.next_action = now;
                break;
            case State::verifying:
            case State::downloading:
                job.state = State::downloading;
                job.variants_done.clear();  // partial files are fetched again
                job.next_action = now;
                break;
            default:
                if (!is_terminal(job.state)) job.next_action = now;
                break;
        }
        if (is_in_flight(job.state)) sched_.on_acquire(job.spec.provider, job.key_slot);
        auto& stored = jobs_[job.id] = std::move(job);
        if (was != stored.state) {
            out.push_back(log(
                Log::info, "job=" + stored.spec.name + " " + std::string(to_string(was)) + " -> " +
                               std::string(to_string(stored.state)) + " (" + stored.why + ")"));
            out.push_back(Persist{stored});
        }
        // The shell's publishing and failing are idempotent: finish what a crash interrupted.
        if (stored.state == State::delivering) out.push_back(Deliver{stored});
        if (stored.state == State::failed || stored.state == State::cancelled)
            out.push_back(Fail{stored});
        // A job whose provider left the configuration while videodrop was stopped.
        if (!is_terminal(stored.state) && stored.state != State::delivering)
            provider_or_fail(stored, out);
    }
    return out;
}

void Engine::pause_provider(Job* job, const std::string& name, int slot, const std::string& why,
                            TimePoint now, Commands& out) {
    const KeyState* k = sched_.key(name, slot);
    if (k && !k->paused)
        out.push_back(log(Log::error, "provider " + name + " key #" + std::to_string(slot + 1) +
                                          ": " + why +
                                          "; submits paused, jobs stay queued, credentials "
                                          "checked again every " +
                                          seconds_text(kCredentialCheck)));
    sched_.pause(name, slot, why, now + kCredentialCheck);
    save_limits(now, out);
    if (job) job->next_action = now + kCredentialCheck;
}

// A remix keeps its source's duration and size, which a manifest naming a bare video id cannot
// know: the provider's answer says, and verification and the charge follow it.
void Engine::adopt_remix_shape(Job& job, const protocol::Video& v, TimePoint now, Commands& out) {
    JobSpec shape = job.spec;
    if (v.seconds && *v.seconds > 0) shape.seconds = *v.seconds;
    if (auto size = parse_size(v.size)) shape.size = *size;
    if (shape.seconds == job.spec.seconds && shape.size == job.spec.size) return;
    out.push_back(log(Log::info, "job=" + job.spec.name + " remix of " + job.spec.remix_of +
                                     " is " + std::to_string(shape.seconds) + " s at " +
                                     to_string(shape.size) + " like its source"));
    job.spec.seconds = shape.seconds;
    job.spec.size = shape.size;
    const ProviderSettings* p = provider(job);
    if (!p) return;
    double cost = estimate_cost(job.spec, *p);
    if (job.charged && cost != job.cost_usd) {
        LedgerEntry e{now, job.id, cost - job.cost_usd};
        ledger_.add(e);
        out.push_back(RecordSpend{e});
    }
    job.cost_usd = cost;
}

void Engine::apply_video(Job& job, const protocol::Video& v, const HttpResult& r, TimePoint now,
                         Commands& out) {
    bool new_id = !v.id.empty() && v.id != job.video_id;
    if (!v.id.empty()) job.video_id = v.id;
    job.status_word = v.status_word;
    if (v.progress) job.progress = std::clamp(*v.progress, 0, 100);
    if (!v.result_url.empty()) job.result_url = v.result_url;
    if (v.expires_at) job.expires = from_ms(*v.expires_at * 1000);
    if (!job.spec.remix_of.empty()) adopt_remix_shape(job, v, now, out);
    State before = job.state;
    std::optional<Millis> poll_after;
    if (auto h = r.header("openai-poll-after-ms")) {
        try {
            poll_after = Millis{std::stoll(*h)};
        } catch (...) {
        }
    }
    switch (v.status) {
        case protocol::VideoStatus::unknown:
            out.push_back(log(Log::warn, "job=" + job.spec.name + " unknown status word '" +
                                             v.status_word + "', treated as still running"));
            [[fallthrough]];
        case protocol::VideoStatus::queued:
        case protocol::VideoStatus::in_progress: {
            State s =
                v.status == protocol::VideoStatus::queued ? State::queued : State::in_progress;
            if (s == State::in_progress && job.progress_seen == TimePoint{}) {
                job.progress_seen = now;
                job.progress_at_first_seen = job.progress;
            }
            transition(job, s, "", out);
            job.next_action =
                next_poll(settings_.polling, now, job.progress_seen, job.progress_at_first_seen,
                          job.progress, job.polls, poll_after);
            break;
        }
        case protocol::VideoStatus::completed:
            job.completed = now;
            job.progress = 100;
            job.retries = 0;
            transition(job, State::downloading, "", out);
            job.next_action = now;
            break;
        case protocol::VideoStatus::failed:
        case protocol::VideoStatus::cancelled: {
            JobError e;
            e.stage = "generate";
            e.code = v.error && !v.error->code.empty()
                         ? v.error->code
                         : (v.status == protocol::VideoStatus::failed ? "generation_failed"
                                                                      : "cancelled_by_provider");
            e.message = v.error && !v.error->message.empty()
                            ? v.error->message
                            : "the provider reports status '" + v.status_word + "'";
            if (v.error) e.provider_error = v.error->raw;
            e.request_id = r.request_id();
            fail(job, std::move(e), out);
            return;
        }
    }
    if (new_id || before != job.state) out.push_back(Persist{job});
}
void Engine::on_poll(Job& job, const HttpResult& r, TimePoint now, Commands& out) {
    const ProviderSettings* pp = provider_or_fail(job, out);
    if (!pp) return;
    const ProviderSettings& p = *pp;
    job.polls++;
    auto c = protocol::classify(r, false, now);
    if (c.cls == protocol::ErrorClass::ok) {
        auto v = protocol::parse_video(r, p.dialect);
        if (v) {
            job.retries = 0;
            apply_video(job, *v, r, now, out);
            return;
        }
        out.push_back(log(Log::warn, "job=" + job.spec.name + " poll: " + v.error().message));
        c.cls = protocol::ErrorClass::retryable;
    }
    switch (c.cls) {
        case protocol::ErrorClass::terminal:
            fail(job, error_from("generate", c, r), out);
            break;
        case protocol::ErrorClass::provider_fatal:
            pause_provider(&job, job.spec.provider, job.key_slot,
                           c.code + ": " + error_from("generate", c, r).message, now, out);
            break;
        default: {
            job.retries++;
            Millis delay = backoff(job.retries - 1, jitter(), settings_.polling.min_interval,
                                   settings_.polling.max_interval);
            if (c.retry_after) delay = std::max(delay, *c.retry_after);
            job.next_action = now + delay;
            break;
        }
    }
}
void Engine::on_check(const std::string& target, const HttpResult& r, TimePoint now,
                      Commands& out) {
    checking_.erase(target);
    auto hash = target.rfind('#');
    std::string name = target.substr(1, hash - 1);
    int slot = std::stoi(target.substr(hash + 1));
    auto c = protocol::classify(r, false, now);
    if (c.cls == protocol::ErrorClass::ok) {
        sched_.resume(name, slot);
        save_limits(now, out);
        out.push_back(log(Log::info, "provider " + name + " key #" + std::to_string(slot + 1) +
                                         ": credentials work again; submits resume"));
        for (auto& [id, job] : jobs_)
            if (job.spec.provider == name && !is_terminal(job.state) && job.next_action > now)
                job.next_action = now;
    } else {
        sched_.pause(name, slot, sched_.key(name, slot)->pause_reason, now + kCredentialCheck);
    }
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
    transition(job, State::cancelled, "by the user", out);
    job.awaiting = false;
    out.push_back(Persist{job});
    out.push_back(Fail{job});
    return out;
}

Commands Engine::tick(TimePoint now) {
    Commands out;
    sched_wake_.reset();
    // Deadlines: job_timeout counts from the first create, whatever the job is doing since.
    for (auto& [id, job] : jobs_)
        enforce_deadline(job, now, out);
    // Downloads first, those whose links expire soonest first.
    std::vector<Job*> downloads;
    size_t downloading = 0;
    for (auto& [id, job] : jobs_) {
        if (job.state != State::downloading) continue;
        if (job.awaiting)
            ++downloading;
        else if (job.next_action <= now)
            downloads.push_back(&job);
    }
    std::sort(downloads.begin(), downloads.end(), [](const Job* a, const Job* b) {
        auto ea = a->expires.value_or(TimePoint::max()), eb = b->expires.value_or(TimePoint::max());
        return ea != eb ? ea < eb : a->seq < b->seq;
    });
    for (Job* job : downloads) {
        if (downloading >= kMaxParallelDownloads) break;
        start_download(*job, now, out);
        ++downloading;
    }
    // Polls and reconciling lists that are due.
    for (auto& [id, job] : jobs_) {
        if (job.awaiting || job.next_action > now) continue;
        if (job.state != State::queued && job.state != State::in_progress &&
            job.state != State::reconciling)
            continue;
        const ProviderSettings* p = provider_or_fail(job, out);
        if (!p) continue;
        if (job.state == State::queued || job.state == State::in_progress) {
            job.awaiting = true;
            out.push_back(SendHttp{id, Purpose::poll,
                                   protocol::build_retrieve(*p, job.video_id, job.key_slot)});
        } else if (job.state == State::reconciling) {
            job.awaiting = true;
            job.list_pages = 0;
            out.push_back(
                SendHttp{id, Purpose::list, protocol::build_list(*p, 50, "", job.key_slot)});
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
            checking_.insert(target);
            out.push_back(
                SendHttp{target, Purpose::check, protocol::build_models(pit->second, slot)});
        }
    }
    // Submits: priority, then arrival.
    std::vector<Job*> candidates;
    for (auto& [id, job] : jobs_)
        if ((job.state == State::claimed || job.state == State::waiting) &&
            job.next_action <= now && !job.awaiting)
            candidates.push_back(&job);
    std::sort(candidates.begin(), candidates.end(), [](const Job* a, const Job* b) {
        return a->spec.priority != b->spec.priority ? a->spec.priority > b->spec.priority
                                                    : a->seq < b->seq;
    });
    std::map<std::string, Scheduler::Decision> blocked;
    for (Job* job : candidates) {
        if (!provider_or_fail(*job, out)) continue;
        if (auto e = never_affordable(*job, now)) {
            fail(*job, std::move(*e), out);
            continue;
        }
        auto why =
            job->charged ? std::nullopt : ledger_.refuse(job->cost_usd, now, settings_.budget);
        if (why) {
            if (why->find("usd_per_day") != std::string::npos)
                *why += "; waits for the next UTC day (" +
                        iso8601_utc(std::chrono::ceil<std::chrono::days>(now + Millis{1})) + ")";
            if (job->state != State::waiting || job->why != *why) {
                transition(*job, State::waiting, *why, out);
                out.push_back(Persist{*job});
            }
            job->next_action = now + kBudgetRecheck;
            continue;
        }
        auto b = blocked.find(job->spec.provider);
        Scheduler::Decision d =
            b != blocked.end() ? b->second : sched_.can_submit(job->spec.provider, now);
        if (!d.slot) {
            blocked[job->spec.provider] = d;
            if (d.retry_at != TimePoint::max())
                sched_wake_ = std::min(sched_wake_.value_or(TimePoint::max()), d.retry_at);
            if (job->state != State::waiting || job->why != d.why) {
                transition(*job, State::waiting, d.why, out);
                if (job->state != State::claimed) out.push_back(Persist{*job});
            }
            continue;
        }
        start_submit(*job, *d.slot, now, out);
    }
    last_tick_ = now;
    return out;
}

void Engine::enforce_deadline(Job& job, TimePoint now, Commands& out) {
    if (!is_submitted(job) || is_terminal(job.state) || job.state == State::delivering) return;
    if (job.first_submit + settings_.polling.job_timeout > now) return;
    // An answer on the wire comes back by itself (requests have their own timeouts).
    if (job.awaiting && (job.state == State::submitting || job.state == State::verifying)) return;
    std::string limit = seconds_text(settings_.polling.job_timeout);
    switch (job.state) {
        case State::downloading:
        case State::verifying:
            fail_download(job,
                          JobError::make("download", "timeout",
                                         "the video was not fetched and verified within "
                                         "polling.job_timeout (" +
                                             limit + ") of the first create"),
                          out);
            return;
        case State::queued:
        case State::in_progress: {
            JobError e =
                JobError::make("generate", "timeout",
                               "no result " + limit +
                                   " after the first create (last "
                                   "status '" +
                                   job.status_word + "', " + std::to_string(job.progress) + "%)");
            e.retryable = true;
            e.video_id = job.video_id;
            fail(job, std::move(e), out);
            return;
        }
        default:
            break;
    }
    if (job.charged) {  // reconciling, or about to create again after a lost answer
        fail(job,
             ambiguous_create(job, "was not found within polling.job_timeout (" + limit + ")", {}),
             out);
        return;
    }
    JobError e =
        JobError::make("submit", "timeout",
                       "the provider did not accept the create within "
                       "polling.job_timeout (" +
                           limit + "); " + std::to_string(job.submit_attempts) + " attempt(s)");
    e.retryable = true;
    fail(job, std::move(e), out);
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
        if (job.state != State::waiting || !job.why.starts_with("budget")) return false;
        any = true;
    }
    return any;
}

}  // namespace vd