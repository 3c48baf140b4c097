// Starting again after a stop: jobs, spend and limits read back, and what a crash cut short
// resumed safely (a create whose outcome was not recorded is reconciled, never resent).
#include "pipeline/engine.hpp"

#include <algorithm>

#include "pipeline/engine_util.hpp"

namespace vd {

using namespace engine_detail;

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

}  // namespace vd
