// Submitting and reconciling: the create, its answer, and the search for a lost one.
#include "pipeline/engine.hpp"

#include <algorithm>

#include "pipeline/engine_util.hpp"

namespace vd {

using namespace engine_detail;

namespace {
constexpr Millis kReconcileDelay{5000};     // let the provider's list catch up with a lost create
constexpr Millis kReconcileRecheck{15000};  // the next look before calling a create absent
constexpr Millis kMatchWindow{5 * 60 * 1000};
constexpr int kMaxListPages = 10;
}  // namespace

void Engine::start_submit(Job& job, int slot, TimePoint now, Commands& out) {
    const ProviderSettings* p = provider_or_fail(job, out);
    if (!p) return;
    // A create sent again after a reconcile found nothing keeps the reservation it already has.
    if (!job.charged) {
        LedgerEntry e{now, job.id, job.cost_usd};
        ledger_.add(e);
        out.push_back(RecordSpend{e});
        job.charged = true;
    }
    job.key_slot = slot;
    job.submit_attempts++;
    job.submit_sent = now;
    if (job.first_submit == TimePoint{}) job.first_submit = now;
    job.reconcile_passes = 0;
    sched_.on_submit(job.spec.provider, slot, now);
    std::erase_if(job.recent_creates,
                  [&](const Job::SentCreate& c) { return c.at + kCreateWindow <= now; });
    job.recent_creates.push_back({slot, now});
    // Recorded (on entering `submitting`) before the request goes out: after a crash this job
    // is reconciled, not resent, and the create counts against the key's minute after a
    // restart too.
    enter(job, State::submitting, "attempt " + std::to_string(job.submit_attempts), out);
    HttpRequest req = protocol_of(*p)->create(*p, job.spec, slot);
    job.stream_pending.clear();
    job.awaiting = true;
    out.push_back(SendHttp{job.id, Purpose::create, std::move(req)});
}

Commands Engine::on_stream(const std::string& id, std::string_view piece, TimePoint now) {
    Commands out;
    auto it = jobs_.find(id);
    if (it == jobs_.end() || it->second.state != State::submitting) return out;
    Job& job = it->second;
    const ProviderSettings* p = provider(job);
    if (!p) return out;
    auto pct = protocol_of(*p)->stream_progress(job.stream_pending, piece);
    if (!pct || std::clamp(*pct, 0, 100) <= job.progress) return out;
    int before = job.progress;
    job.progress = std::clamp(*pct, 0, 100);
    if (job.progress_seen == TimePoint{}) job.progress_seen = now;
    // Written at each tenth, for `status`: a stream may report every percent.
    if (job.progress / 10 != before / 10) {
        out.push_back(Persist{job});
        out.push_back(job_log(Log::debug, job, " stream at " + std::to_string(job.progress) + "%"));
    }
    return out;
}

void Engine::on_create(Job& job, const HttpResult& r, TimePoint now, Commands& out) {
    job.stream_pending.clear();
    const ProviderSettings* pp = provider_or_fail(job, out);
    if (!pp) return;
    const ProviderSettings& p = *pp;
    auto c = classify(p, r, true, now, "job=" + job.spec.name, out);
    if (!r.request_id().empty()) job.request_ids.push_back(r.request_id());
    std::string unread;  // why a 2xx answer held no video
    if (c.cls == protocol::ErrorClass::ok) {
        auto v = protocol_of(p)->video(r, p.dialect);
        if (v) {
            sched_.on_success(job.spec.provider, job.key_slot);
            job.submitted = now;
            job.retries = 0;
            out.push_back(job_log(Log::info, job,
                                  " created as " + v->id + " (request " + r.request_id() + ")"));
            apply_video(job, *v, r, now, out);
            return;
        }
        // A 2xx without a video in it: the create may well have happened.
        out.push_back(job_log(Log::warn, job,
                              " create answered " + std::to_string(r.status) +
                                  " without a video: " + v.error().message));
        c.cls = protocol::ErrorClass::ambiguous;
        c.code = "bad_create_answer";
        unread = v.error().message;
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
                save_limits(out);
            }
            if (c.retry_after) delay = std::max(delay, *c.retry_after);
            if (job.submit_attempts >= settings_.max_submit_attempts) {
                auto e = error_from("submit", c, r);
                e.hint = "the provider refused " + std::to_string(job.submit_attempts) +
                         " creates in a row; `videodrop retry NAME` tries again";
                fail(job, std::move(e), out);
                return;
            }
            job.next_action = now + delay;
            enter(job, State::waiting, Wait::retry_create(c.code, delay), out);
            break;
        }
        case protocol::ErrorClass::ambiguous:
            job.ambiguity =
                r.transport == TransportError::after_send
                    ? "no answer (" + r.transport_message + ")"
                    : "HTTP " + std::to_string(r.status) +
                          (c.code == "bad_create_answer" ? " without a video (" + unread + ")"
                                                         : " (" + c.code + ")");
            job.list_pages = 0;
            job.reconcile_passes = 0;
            job.next_action = now + kReconcileDelay;
            if (r.status == 503) {
                // Overloaded: slow the submit rate like a 429, and look only once it may answer.
                Millis hold = c.retry_after.value_or(backoff(0, jitter()));
                sched_.on_rate_limited(job.spec.provider, job.key_slot, hold, now);
                save_limits(out);
                job.next_action = std::max(job.next_action, now + hold);
            }
            enter(job, State::reconciling,
                  "create outcome unknown (" + c.code + "): looking for the video", out);
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
            enter(job, State::waiting, Wait::provider_paused(job.spec.provider, e.code), out);
            break;
        }
    }
}

void Engine::on_list(Job& job, const HttpResult& r, TimePoint now, Commands& out) {
    const ProviderSettings* pp = provider_or_fail(job, out);
    if (!pp) return;
    const ProviderSettings& p = *pp;
    const protocol::Protocol& proto = *protocol_of(p);
    auto c = classify(p, r, false, now, "job=" + job.spec.name, out);
    tl::expected<protocol::VideoList, protocol::ParseError> list =
        tl::make_unexpected(protocol::ParseError{});
    if (c.cls == protocol::ErrorClass::ok) {
        list = proto.videos(r, p.dialect);
        if (!list) c.cls = protocol::ErrorClass::retryable;
    }
    if (c.cls == protocol::ErrorClass::terminal || c.cls == protocol::ErrorClass::provider_fatal) {
        // Without the list nothing proves the video absent: fail rather than pay twice.
        auto e =
            ambiguous_create(job, "could not be looked for (listing answered " + c.code + ")", r);
        e.http_status = r.status;
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
        if (!proto.matches(v, job.spec, job.submit_sent, kMatchWindow)) continue;
        bool taken = std::any_of(jobs_.begin(), jobs_.end(), [&](const auto& kv) {
            return kv.first != job.id && kv.second.video_id == v.id;
        });
        if (!taken) {
            match = &v;
            break;
        }
    }
    if (match) {
        out.push_back(job_log(Log::info, job,
                              " adopted " + match->id +
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
            fail(job,
                 ambiguous_create(job,
                                  "was not among the newest " + std::to_string(job.list_pages) +
                                      " pages of the provider's list",
                                  r),
                 out);
            return;
        }
        job.awaiting = true;
        out.push_back(SendHttp{job.id, Purpose::list, proto.list(p, list->last_id, job.key_slot)});
        return;
    }
    job.list_pages = 0;
    if (++job.reconcile_passes < settings_.reconcile.looks) {
        job.next_action = now + kReconcileRecheck;
        enter(job, State::reconciling, "not listed yet; looking again", out);
        return;
    }
    // Complete looks, some seconds apart, found nothing: most likely the create never took
    // effect. It is sent again a bounded number of times, keeping its reservation.
    if (job.resubmits < settings_.reconcile.resubmits) {
        ++job.resubmits;
        job.next_action = now;
        enter(job, State::waiting,
              Wait::recreate(job.reconcile_passes, job.resubmits, settings_.reconcile.resubmits),
              out);
        return;
    }
    fail(job, ambiguous_create(job, "was not found in the provider's list", r), out);
}

void Engine::lost_unlistable(Job& job, const protocol::Protocol& proto, const ProviderSettings& p,
                             Commands& out) {
    if (proto.polls()) {
        // Nothing to look in: sending the create again could make a second video.
        fail(job, ambiguous_create(job, "cannot be looked for: the provider has no list", {}), out);
        return;
    }
    // The answer stream was the job, and it broke: the provider may have made (and billed) it.
    if (p.resubmit_lost_stream && job.resubmits < settings_.reconcile.resubmits) {
        ++job.resubmits;
        job.charged = false;  // the lost one stays spent; the resend is reserved on its own
        job.next_action = job.submit_sent;
        enter(job, State::waiting, Wait::retry_create("stream_lost", Millis{0}), out);
        return;
    }
    JobError e = JobError::submit(
        "stream_lost", "the answer stream of the create sent at " + iso8601_utc(job.submit_sent) +
                           " broke (" +
                           (job.ambiguity.empty() ? "no usable answer" : job.ambiguity) +
                           ") before it named a video; " + std::to_string(job.submit_attempts) +
                           " create(s) sent in all, not resent, to avoid paying twice");
    e.hint =
        "the provider may have made (and billed) it; check there, then `videodrop retry "
        "NAME` sends it again, or set on_lost_stream = \"resubmit\" for this provider";
    fail(job, std::move(e), out);
}

// The create's outcome stays unknown: a person has to look. Its reservation stays spent.
JobError Engine::ambiguous_create(const Job& job, const std::string& what, const HttpResult& r) {
    JobError e = JobError::submit(
        "ambiguous_create", "the create sent at " + iso8601_utc(job.submit_sent) + " got " +
                                (job.ambiguity.empty() ? "no usable answer" : job.ambiguity) +
                                ", and the video " + what + "; " +
                                std::to_string(job.submit_attempts) + " create(s) sent in all, " +
                                "not sending another");
    e.request_id = r.request_id();
    return e;
}

}  // namespace vd
