#include "pipeline/engine.hpp"

#include <algorithm>
#include <charconv>

namespace vd {

namespace {

constexpr Millis kReconcileDelay{5000};     // let the provider's list catch up with a lost create
constexpr Millis kReconcileRecheck{15000};  // the second look before calling a create absent
constexpr Millis kMatchWindow{5 * 60 * 1000};
constexpr int kMaxListPages = 10;
constexpr Millis kCredentialCheck{60 * 1000};
constexpr Millis kBudgetRecheck{60 * 1000};
constexpr size_t kMaxParallelDownloads = 4;
constexpr int kMaxFailedDownloads = 5;  // consecutive failed fetches of one file

std::string fixed(double v, int decimals) {
    char buf[32];
    auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed, decimals);
    return std::string(buf, r.ptr);
}

std::string usd(double v) {
    return "$" + fixed(v, 2);
}

std::string seconds_text(Millis d) {
    return fixed(double(d.count()) / 1000.0, 1) + "s";
}

Log log(Log::Level level, std::string text) {
    return Log{level, std::move(text)};
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
    return std::find(v.begin(), v.end(), s) != v.end();
}

std::string check_target(const std::string& provider, int slot) {
    return "@" + provider + "#" + std::to_string(slot);
}

// The error file's fields from a classified response.
JobError error_from(const std::string& stage, const protocol::Classified& c, const HttpResult& r) {
    JobError e;
    e.stage = stage;
    e.code = c.code;
    e.http_status = r.status;
    e.request_id = r.request_id();
    e.retryable = c.cls == protocol::ErrorClass::retryable;
    if (c.error) {
        e.message = c.error->message;
        e.provider_error = c.error->raw;
    } else if (r.transport != TransportError::none) {
        e.message = r.transport_message;
    } else {
        e.message = "HTTP " + std::to_string(r.status);
    }
    if (e.message.empty()) e.message = "HTTP " + std::to_string(r.status);
    return e;
}

std::string hint_for(const std::string& code) {
    if (code == "moderation_blocked" || code == "sentinel_block")
        return "the provider's moderation refused the prompt or image; change it, then "
               "`videodrop retry NAME`";
    if (code == "model_not_found")
        return "the provider does not offer this model; check [providers.*.models] and the "
               "manifest";
    if (code == "timeout")
        return "the provider took longer than polling.job_timeout; raise it or `videodrop retry "
               "NAME`";
    if (code == "expired")
        return "the provider's download link expired; `videodrop retry NAME` generates it again";
    if (code == "ambiguous_create")
        return "the provider may have created (and billed) the video; check its dashboard before "
               "`videodrop retry NAME`";
    return "see the message; after fixing the cause, `videodrop retry NAME` submits it again";
}

}  // namespace

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
             {"validate", "unknown_provider",
              "provider '" + stored.spec.provider + "' is not configured", 0, nullptr, "", false,
              "add a [providers." + stored.spec.provider + "] table or change the manifest"},
             out);
        return out;
    }
    if (p->protocol == "chat-sse") {
        fail(stored,
             {"validate", "unsupported_protocol",
              "protocol \"chat-sse\" of provider '" + p->name + "' is not supported yet", 0,
              nullptr, "", false, "use a provider with protocol = \"openai-videos\""},
             out);
        return out;
    }
    out.push_back(Persist{stored});
    return out;
}

Commands Engine::restore(std::vector<Job> jobs, std::vector<LedgerEntry> ledger, TimePoint now) {
    Commands out;
    for (const auto& e : ledger)
        ledger_.add(e);
    std::sort(jobs.begin(), jobs.end(), [](const Job& a, const Job& b) { return a.seq < b.seq; });
    for (auto& job : jobs) {
        next_seq_ = std::max(next_seq_, job.seq + 1);
        if (job.state == State::delivered) continue;
        State was = job.state;
        switch (job.state) {
            case State::submitting:
                // The create may or may not have reached the provider: never resend blindly.
                job.state = State::reconciling;
                job.why = "restarted while the create was on the wire";
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
    }
    return out;
}

void Engine::start_submit(Job& job, int slot, TimePoint now, Commands& out) {
    const ProviderSettings& p = *provider(job);
    LedgerEntry e{now, job.id, job.cost_usd};
    ledger_.add(e);
    out.push_back(RecordSpend{e});
    job.charged = true;
    job.key_slot = slot;
    job.submit_attempts++;
    job.submit_sent = now;
    job.reconcile_passes = 0;
    sched_.on_submit(job.spec.provider, slot, now);
    transition(job, State::submitting, "attempt " + std::to_string(job.submit_attempts), out);
    // Recorded before the request goes out: after a crash this job is reconciled, not resent.
    out.push_back(Persist{job});
    HttpRequest req = job.spec.remix_of.empty() ? protocol::build_create(p, job.spec, slot)
                                                : protocol::build_remix(p, job.spec, slot);
    job.awaiting = true;
    out.push_back(SendHttp{job.id, Purpose::create, std::move(req)});
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

void Engine::on_create(Job& job, const HttpResult& r, TimePoint now, Commands& out) {
    const ProviderSettings& p = *provider(job);
    auto c = protocol::classify(r, true, now);
    if (!r.request_id().empty()) job.request_ids.push_back(r.request_id());
    if (c.cls == protocol::ErrorClass::ok) {
        auto v = protocol::parse_video(r, p.dialect);
        if (v) {
            sched_.on_success(job.spec.provider, job.key_slot);
            job.submitted = now;
            job.retries = 0;
            out.push_back(log(Log::info, "job=" + job.spec.name + " created as " + v->id +
                                             " (request " + r.request_id() + ")"));
            apply_video(job, *v, r, now, out);
            return;
        }
        // A 2xx without a video in it: the create may well have happened.
        out.push_back(log(Log::warn, "job=" + job.spec.name + " create answered " +
                                         std::to_string(r.status) +
                                         " without a video: " + v.error().message));
        c.cls = protocol::ErrorClass::ambiguous;
        c.code = "bad_create_answer";
    }
    switch (c.cls) {
        case protocol::ErrorClass::ok:
            break;
        case protocol::ErrorClass::retryable: {
            refund(job, now, out);  // provably not created: 429, 408, 409, or never sent
            job.retries++;
            Millis delay = backoff(job.retries - 1, jitter());
            if (r.status == 429) {
                Millis hold = c.retry_after.value_or(delay);
                sched_.on_rate_limited(job.spec.provider, job.key_slot, hold, now);
            }
            if (c.retry_after) delay = std::max(delay, *c.retry_after);
            if (job.submit_attempts >= settings_.max_submit_attempts) {
                auto e = error_from("submit", c, r);
                e.hint = "the provider refused " + std::to_string(job.submit_attempts) +
                         " creates in a row; `videodrop retry NAME` tries again";
                fail(job, std::move(e), out);
                return;
            }
            transition(job, State::waiting,
                       "retrying the create after " + c.code + " in " + seconds_text(delay), out);
            job.next_action = now + delay;
            out.push_back(Persist{job});
            break;
        }
        case protocol::ErrorClass::ambiguous:
            transition(job, State::reconciling,
                       "create outcome unknown (" + c.code + "): looking for the video", out);
            job.list_pages = 0;
            job.reconcile_passes = 0;
            job.next_action = now + kReconcileDelay;
            if (r.status == 503) {
                // Overloaded: slow the submit rate like a 429, and look only once it may answer.
                Millis hold = c.retry_after.value_or(backoff(0, jitter()));
                sched_.on_rate_limited(job.spec.provider, job.key_slot, hold, now);
                job.next_action = std::max(job.next_action, now + hold);
            }
            out.push_back(Persist{job});
            break;
        case protocol::ErrorClass::terminal:
            refund(job, now, out);
            fail(job, error_from("submit", c, r), out);
            break;
        case protocol::ErrorClass::provider_fatal: {
            refund(job, now, out);
            auto e = error_from("submit", c, r);
            pause_provider(&job, job.spec.provider, job.key_slot, e.code + ": " + e.message, now,
                           out);
            transition(job, State::waiting, "provider " + job.spec.provider + " paused", out);
            out.push_back(Persist{job});
            break;
        }
    }
}

void Engine::on_poll(Job& job, const HttpResult& r, TimePoint now, Commands& out) {
    const ProviderSettings& p = *provider(job);
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

void Engine::on_list(Job& job, const HttpResult& r, TimePoint now, Commands& out) {
    const ProviderSettings& p = *provider(job);
    auto c = protocol::classify(r, false, now);
    tl::expected<protocol::VideoList, protocol::ParseError> list =
        tl::make_unexpected(protocol::ParseError{});
    if (c.cls == protocol::ErrorClass::ok) {
        list = protocol::parse_list(r, p.dialect);
        if (!list) c.cls = protocol::ErrorClass::retryable;
    }
    if (c.cls == protocol::ErrorClass::terminal || c.cls == protocol::ErrorClass::provider_fatal) {
        // Without the list nothing proves the video absent: fail rather than pay twice.
        auto e = error_from("submit", c, r);
        e.code = "ambiguous_create";
        e.message = "the create's answer was lost and listing videos failed (" + c.code +
                    "), so videodrop cannot tell whether the video exists; not resubmitting";
        fail(job, std::move(e), out);
        return;
    }
    if (c.cls != protocol::ErrorClass::ok) {
        job.retries++;
        job.list_pages = 0;
        job.next_action =
            now + std::max(backoff(job.retries - 1, jitter()), c.retry_after.value_or(Millis{0}));
        return;
    }
    job.retries = 0;
    const protocol::Video* match = nullptr;
    for (const auto& v : list->data) {
        if (!protocol::matches_job(v, job.spec, job.submit_sent, kMatchWindow)) continue;
        bool taken = std::any_of(jobs_.begin(), jobs_.end(), [&](const auto& kv) {
            return kv.first != job.id && kv.second.video_id == v.id;
        });
        if (!taken) {
            match = &v;
            break;
        }
    }
    if (match) {
        out.push_back(log(Log::info, "job=" + job.spec.name + " adopted " + match->id +
                                         ": the provider has it although the create's answer "
                                         "was lost"));
        job.submitted = job.submit_sent;
        job.list_pages = 0;
        apply_video(job, *match, r, now, out);
        return;
    }
    // Keep paging while the list still reaches back to the create's time.
    int64_t sent_s = to_ms(job.submit_sent) / 1000;
    bool reaches_back = false;
    for (const auto& v : list->data)
        if (v.created_at && *v.created_at < sent_s - 60) reaches_back = true;
    if (list->has_more && !reaches_back && !list->last_id.empty()) {
        if (++job.list_pages >= kMaxListPages) {
            JobError e{"submit",
                       "ambiguous_create",
                       "the create's answer was lost and the video was not among the newest " +
                           std::to_string(job.list_pages) + " pages of the provider's list",
                       0,
                       nullptr,
                       r.request_id(),
                       false,
                       ""};
            fail(job, std::move(e), out);
            return;
        }
        job.awaiting = true;
        out.push_back(SendHttp{job.id, Purpose::list,
                               protocol::build_list(p, 50, list->last_id, job.key_slot)});
        return;
    }
    job.list_pages = 0;
    if (++job.reconcile_passes < 2) {
        transition(job, State::reconciling, "not listed yet; looking again", out);
        job.next_action = now + kReconcileRecheck;
        return;
    }
    // Two complete looks, some seconds apart, found nothing: the create never took effect.
    refund(job, now, out);
    transition(job, State::waiting, "the provider never received the create; submitting again",
               out);
    job.next_action = now;
    out.push_back(Persist{job});
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

void Engine::start_download(Job& job, TimePoint now, Commands& out) {
    const ProviderSettings& p = *provider(job);
    std::string variant;
    if (!contains(job.variants_done, "video")) {
        variant = "video";
    } else {
        for (const auto& v : job.spec.variants)
            if (!contains(job.variants_done, v) && !contains(job.variants_missing, v)) {
                variant = v;
                break;
            }
    }
    if (variant.empty()) {
        transition(job, State::verifying, "", out);
        Expectation expect;
        expect.size = job.spec.size;
        expect.seconds = job.spec.seconds;
        expect.duration_tolerance = settings_.verify.duration_tolerance;
        expect.require_audio = settings_.verify.require_audio;
        job.awaiting = true;
        out.push_back(Probe{job.id, expect});
        return;
    }
    HttpRequest req;
    if (variant == "video" && !job.result_url.empty()) {
        // A dialect's direct link: the shell sends the key only to the provider's own host.
        req.url = job.result_url;
        req.provider = p.name;
        req.key_slot = job.key_slot;
        req.authenticated = p.dialect.url_gets_key;
    } else {
        req = protocol::build_content(p, job.video_id, variant, job.key_slot);
    }
    if (variant == "video") job.download_attempts++;
    (void)now;
    job.awaiting = true;
    out.push_back(Download{job.id, variant, std::move(req)});
}

Commands Engine::on_download(const std::string& id, const std::string& variant,
                             const DownloadResult& r, TimePoint now) {
    Commands out;
    auto it = jobs_.find(id);
    if (it == jobs_.end() || it->second.state != State::downloading) return out;
    Job& job = it->second;
    job.awaiting = false;
    auto c = protocol::classify(r.http, false, now);
    if (c.cls == protocol::ErrorClass::ok &&
        r.http.content_type.find("json") != std::string::npos) {
        // Some gateways answer the content endpoint with a link instead of the bytes.
        HttpResult as_video = r.http;
        auto v = protocol::parse_video(as_video, provider(job)->dialect);
        if (variant == "video" && v && !v->result_url.empty() && v->result_url != job.result_url) {
            job.result_url = v->result_url;
            job.next_action = now;
            return out;
        }
        c.cls = protocol::ErrorClass::retryable;
        c.code = "json_instead_of_video";
    }
    if (c.cls == protocol::ErrorClass::ok && r.bytes > 0) {
        job.retries = 0;
        job.variants_done.push_back(variant);
        job.next_action = now;
        return out;
    }
    if (c.cls == protocol::ErrorClass::ok) c.code = "empty_body";
    job.retries++;
    bool expired = job.expires && now > *job.expires;
    if (variant != "video" && (job.retries >= kMaxFailedDownloads || expired)) {
        out.push_back(log(Log::warn, "job=" + job.spec.name + " " + variant + " not to be had (" +
                                         c.code + "); delivering without it"));
        job.variants_missing.push_back(variant);
        job.retries = 0;
        job.next_action = now;
        return out;
    }
    if (expired || job.retries >= kMaxFailedDownloads ||
        c.cls == protocol::ErrorClass::provider_fatal) {
        auto e = error_from("download", c, r.http);
        if (expired) e.code = "expired";
        fail(job, std::move(e), out);
        return out;
    }
    Millis delay = std::max(backoff(job.retries - 1, jitter(), settings_.polling.min_interval,
                                    settings_.polling.max_interval),
                            c.retry_after.value_or(Millis{0}));
    out.push_back(log(Log::info, "job=" + job.spec.name + " download of " + variant + " failed (" +
                                     c.code + "); again in " + seconds_text(delay)));
    job.next_action = now + delay;
    return out;
}

Commands Engine::on_probe(const std::string& id, const MediaInfo& info, TimePoint now) {
    Commands out;
    auto it = jobs_.find(id);
    if (it == jobs_.end() || it->second.state != State::verifying) return out;
    Job& job = it->second;
    job.awaiting = false;
    Expectation expect;
    expect.size = job.spec.size;
    expect.seconds = job.spec.seconds;
    expect.duration_tolerance = settings_.verify.duration_tolerance;
    expect.require_audio = settings_.verify.require_audio;
    Verdict v = evaluate(info, expect);
    if (v.ok) {
        job.media = info;
        transition(job, State::delivering, "", out);
        out.push_back(Persist{job});
        out.push_back(Deliver{job});
        return out;
    }
    if (job.download_attempts < settings_.verify.max_download_attempts) {
        out.push_back(log(Log::warn, "job=" + job.spec.name + " download failed verification (" +
                                         v.code + ": " + v.message + "); fetching again"));
        job.variants_done.clear();
        transition(job, State::downloading, "verification failed: " + v.code, out);
        job.next_action = now;
        out.push_back(Persist{job});
        return out;
    }
    JobError e{"verify",
               v.code,
               v.message,
               0,
               nullptr,
               "",
               false,
               "the provider's file failed verification " + std::to_string(job.download_attempts) +
                   " times; `videodrop retry NAME` generates it again"};
    fail(job, std::move(e), out);
    return out;
}

Commands Engine::on_delivered(const std::string& id, const std::string& output_name,
                              TimePoint now) {
    Commands out;
    auto it = jobs_.find(id);
    if (it == jobs_.end() || it->second.state != State::delivering) return out;
    Job& job = it->second;
    job.output_name = output_name;
    job.delivered = now;
    transition(job, State::delivered, output_name + ".mp4", out);
    out.push_back(Persist{job});
    return out;
}

Commands Engine::cancel(const std::string& id, TimePoint now) {
    Commands out;
    auto it = jobs_.find(id);
    if (it == jobs_.end() || is_terminal(it->second.state)) return out;
    Job& job = it->second;
    bool before_submit = job.state == State::claimed || job.state == State::waiting;
    // A job past its create may have been billed (the provider has no cancel call), so its
    // charge stays in the ledger; only one that never reached the provider gets it back.
    if (before_submit) refund(job, now, out);
    JobError e{before_submit ? "submit" : "generate",
               "cancelled",
               "cancelled by the user",
               0,
               nullptr,
               "",
               false,
               "`videodrop retry NAME` submits it again"};
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
    // Deadlines: a job that renders past job_timeout fails instead of waiting forever.
    for (auto& [id, job] : jobs_) {
        bool rendering = job.state == State::queued || job.state == State::in_progress ||
                         job.state == State::reconciling;
        if (rendering && job.submit_sent + settings_.polling.job_timeout <= now) {
            JobError e{"generate",
                       "timeout",
                       "no result " + seconds_text(settings_.polling.job_timeout) +
                           " after the create (last status '" + job.status_word + "', " +
                           std::to_string(job.progress) + "%)",
                       0,
                       nullptr,
                       "",
                       true,
                       ""};
            fail(job, std::move(e), out);
        }
    }
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
        const ProviderSettings* p = provider(job);
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
        if (auto why = ledger_.refuse(job->cost_usd, now, settings_.budget)) {
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

std::optional<TimePoint> Engine::next_wake() const {
    std::optional<TimePoint> wake = sched_wake_;
    auto consider = [&](TimePoint t) { wake = std::min(wake.value_or(TimePoint::max()), t); };
    for (const auto& [id, job] : jobs_) {
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
                consider(
                    std::min(job.next_action, job.submit_sent + settings_.polling.job_timeout));
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
