// Rendering: what the provider says of a video (status, progress, remix shape) and the polls.
#include "pipeline/engine.hpp"

#include <algorithm>

#include "pipeline/engine_util.hpp"

namespace vd {

using namespace engine_detail;

void Engine::adopt_remix_shape(Job& job, const protocol::Video& v, TimePoint now, Commands& out) {
    JobSpec shape = job.spec;
    if (v.seconds && *v.seconds > 0) shape.seconds = *v.seconds;
    if (auto size = parse_size(v.size)) shape.size = *size;
    if (shape.seconds == job.spec.seconds && shape.size == job.spec.size) return;
    out.push_back(job_log(Log::info, job,
                          " remix of " + job.spec.remix_of + " is " +
                              std::to_string(shape.seconds) + " s at " + to_string(shape.size) +
                              " like its source"));
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
    if (!v.model.empty()) job.served_model = v.model;
    if (v.progress) job.progress = std::clamp(*v.progress, 0, 100);
    if (!v.result_url.empty()) {
        job.result_url = v.result_url;
        job.link_fresh = true;
    }
    if (!v.poll_url.empty() && v.poll_url != job.poll_url) {
        // Polled with the key, so only on the provider's own host.
        const ProviderSettings* p = provider(job);
        if (p && origin(v.poll_url) == origin(p->base_url))
            job.poll_url = v.poll_url;
        else
            out.push_back(job_log(Log::warn, job,
                                  " ignores polling_url " + origin(v.poll_url) +
                                      ": not the provider's host, and polls carry the key"));
    }
    if (v.cost_usd) job.reported_cost_usd = v.cost_usd;
    if (v.expires_at) job.expires = from_ms(*v.expires_at * 1000);
    if (!job.spec.remix_of.empty()) adopt_remix_shape(job, v, now, out);
    State before = job.state;
    std::optional<Millis> poll_after;
    if (const ProviderSettings* p = provider(job))
        poll_after = cap_wait(protocol_of(*p)->poll_after(r), "job=" + job.spec.name,
                              "the provider's poll-after hint", out);
    switch (v.status) {
        case protocol::VideoStatus::unknown:
            out.push_back(
                job_log(Log::warn, job,
                        " unknown status word '" + v.status_word + "', treated as still running"));
            [[fallthrough]];
        case protocol::VideoStatus::queued:
        case protocol::VideoStatus::in_progress: {
            State s =
                v.status == protocol::VideoStatus::queued ? State::queued : State::in_progress;
            if (s == State::in_progress && job.progress_seen == TimePoint{}) {
                job.progress_seen = now;
                job.progress_at_first_seen = job.progress;
            }
            job.next_action =
                next_poll(settings_.polling, now, job.progress_seen, job.progress_at_first_seen,
                          job.progress, job.polls, poll_after);
            if (s != job.state) enter(job, s, "", out);
            break;
        }
        case protocol::VideoStatus::completed:
            job.completed = now;
            job.progress = 100;
            job.retries = 0;
            job.next_action = now;
            enter(job, State::downloading, "", out);
            break;
        case protocol::VideoStatus::failed:
        case protocol::VideoStatus::cancelled: {
            JobError e = JobError::generate(
                v.error && !v.error->code.empty()
                    ? v.error->code
                    : (v.status == protocol::VideoStatus::failed ? "generation_failed"
                                                                 : "cancelled_by_provider"),
                v.error && !v.error->message.empty()
                    ? v.error->message
                    : "the provider reports status '" + v.status_word + "'");
            if (v.error) e.provider_error = v.error->raw;
            e.request_id = r.request_id();
            fail(job, std::move(e), out);
            return;
        }
    }
    // A state change wrote the record already; a new video id alone is written here.
    if (new_id && before == job.state) out.push_back(Persist{job});
}
HttpRequest Engine::status_request(const Job& job, const ProviderSettings& p) const {
    HttpRequest req = protocol_of(p)->status(p, job.video_id, job.key_slot);
    if (!job.poll_url.empty()) req.url = job.poll_url;
    return req;
}

void Engine::on_poll(Job& job, const HttpResult& r, TimePoint now, Commands& out) {
    if (job.state == State::downloading) return on_link_refresh(job, r, now, out);
    const ProviderSettings* pp = provider_or_fail(job, out);
    if (!pp) return;
    const ProviderSettings& p = *pp;
    job.polls++;
    auto c = classify(p, r, false, now, "job=" + job.spec.name, out);
    if (c.cls == protocol::ErrorClass::ok) {
        auto v = protocol_of(p)->video(r, p.dialect);
        if (v) {
            job.retries = 0;
            apply_video(job, *v, r, now, out);
            return;
        }
        out.push_back(job_log(Log::warn, job, " poll: " + v.error().message));
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
}  // namespace vd
