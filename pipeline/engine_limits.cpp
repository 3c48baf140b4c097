// Limits, budget, credentials and deadlines: what may not happen now, or ever.
#include "pipeline/engine.hpp"

#include <algorithm>

#include "pipeline/engine_util.hpp"

namespace vd {

using namespace engine_detail;

namespace {
constexpr Millis kCredentialCheck{60 * 1000};
}  // namespace

std::optional<JobError> Engine::never_affordable(const Job& job) const {
    if (job.charged) return std::nullopt;
    // What fits with nothing coming back fits with anything coming back: the sum over all jobs
    // below is only needed near the cap, so a long queue is not walked once per job per tick.
    if (!ledger_.never_fits(job.cost_usd, 0, settings_.budget)) return std::nullopt;
    // Reservations of creates whose outcome is still open may come back; everything else in
    // the ledger is spent for good.
    double refundable = 0;
    for (const auto& [id, other] : jobs_)
        if (other.charged && (other.state == State::submitting ||
                              other.state == State::reconciling || other.state == State::waiting))
            refundable += other.cost_usd;
    auto why = ledger_.never_fits(job.cost_usd, refundable, settings_.budget);
    if (!why) return std::nullopt;
    return JobError::budget("over_budget", *why,
                            "lower the job's seconds or model, or raise the cap in [budget]");
}

void Engine::save_limits(Commands& out) {
    out.emplace_back(std::in_place_type<SaveLimits>, sched_.snapshot());
}

void Engine::pause_provider(Job* job, const std::string& name, int slot, const std::string& why,
                            TimePoint now, Commands& out) {
    const KeyState* k = sched_.key(name, slot);
    if (k && !k->paused)
        out.push_back(provider_log(Log::error, name,
                                   " key #" + std::to_string(slot + 1) + ": " + why +
                                       "; submits paused, jobs stay queued, credentials "
                                       "checked again every " +
                                       seconds_text(kCredentialCheck)));
    sched_.pause(name, slot, why, now + kCredentialCheck);
    save_limits(out);
    if (job) job->next_action = now + kCredentialCheck;
}

// A remix keeps its source's duration and size, which a manifest naming a bare video id cannot
// know: the provider's answer says, and verification and the charge follow it.
void Engine::on_check(const std::string& target, const HttpResult& r, TimePoint now,
                      Commands& out) {
    checking_.erase(target);
    auto hash = target.rfind('#');
    std::string name = target.substr(1, hash - 1);
    int slot = std::stoi(target.substr(hash + 1));
    auto pit = settings_.providers.find(name);
    if (pit == settings_.providers.end()) return;  // left the configuration meanwhile
    auto c = classify(pit->second, r, false, now, "provider " + name, out);
    if (c.cls == protocol::ErrorClass::ok) {
        sched_.resume(name, slot);
        save_limits(out);
        out.push_back(provider_log(
            Log::info, name,
            " key #" + std::to_string(slot + 1) + ": credentials work again; submits resume"));
        for (auto& [id, job] : jobs_)
            if (job.spec.provider == name && !is_terminal(job.state) && job.next_action > now)
                job.next_action = now;
    } else {
        sched_.pause(name, slot, sched_.key(name, slot)->pause_reason, now + kCredentialCheck);
    }
}

protocol::Classified Engine::classify(const ProviderSettings& p, const HttpResult& r,
                                      bool is_create, TimePoint now, const std::string& who,
                                      Commands& out) const {
    auto c = protocol_of(p)->classify(r, is_create, now);
    c.retry_after = cap_wait(c.retry_after, who, "Retry-After", out);
    return c;
}

// A server may ask for any wait (Retry-After: 999999999 is 31 years); a key or a job held that
// long is lost, so the ask is cut to a configured maximum, loudly.
std::optional<Millis> Engine::cap_wait(std::optional<Millis> asked, const std::string& who,
                                       const char* what, Commands& out) const {
    const Millis cap = settings_.polling.max_provider_wait;
    if (!asked || *asked <= cap) return asked;
    out.push_back(log(Log::warn, who + ": the provider asked to wait " + seconds_text(*asked) +
                                     " (" + what + "); waiting " + seconds_text(cap) +
                                     " instead (polling.max_provider_wait)"));
    return cap;
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
                          JobError::download("timeout",
                                             "the video was not fetched and verified within "
                                             "polling.job_timeout (" +
                                                 limit + ") of the first create"),
                          out);
            return;
        case State::queued:
        case State::in_progress: {
            JobError e = JobError::generate("timeout", "no result " + limit +
                                                           " after the first create (last "
                                                           "status '" +
                                                           job.status_word + "', " +
                                                           std::to_string(job.progress) + "%)");
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
        JobError::submit("timeout",
                         "the provider did not accept the create within "
                         "polling.job_timeout (" +
                             limit + "); " + std::to_string(job.submit_attempts) + " attempt(s)");
    e.retryable = true;
    fail(job, std::move(e), out);
}

}  // namespace vd
