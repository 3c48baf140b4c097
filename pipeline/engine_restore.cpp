// Starting again after a stop: jobs, spend and limits read back, and what a crash cut short
// resumed safely (a create whose outcome was not recorded is reconciled, never resent).
#include "pipeline/engine.hpp"

#include <algorithm>

#include "pipeline/engine_util.hpp"

namespace vd {

using namespace engine_detail;

Commands Engine::restore(std::vector<Job> jobs, std::vector<LedgerEntry> ledger,
                         const nlohmann::json& limits,
                         const std::vector<Scheduler::SentCreate>& creates, TimePoint now) {
    Commands out;
    for (const auto& e : ledger)
        ledger_.add(e);
    sched_.restore(limits, creates, now);
    std::sort(jobs.begin(), jobs.end(), [](const Job& a, const Job& b) { return a.seq < b.seq; });
    std::vector<Job*> storyboards;
    for (auto& job : jobs) {
        next_seq_ = std::max(next_seq_, job.seq + 1);
        // A kept shot stays known while its storyboard is unfinished.
        if (job.state == State::delivered && (job.parent.empty() || !jobs_.count(job.parent)))
            continue;
        if (job.first_submit == TimePoint{} && job.submit_sent != TimePoint{})
            job.first_submit = job.submit_sent;  // a record from before first_submit existed
        // Back in the state it was recorded in, holding its provider slot as it did.
        if (is_in_flight(job.state)) sched_.on_acquire(job.spec.provider, job.key_slot);
        if (!is_terminal(job.state)) job.next_action = now;
        auto& stored = jobs_[job.id] = std::move(job);
        switch (stored.state) {
            case State::submitting:
                // The create may or may not have reached the provider: never resend blindly.
                if (stored.ambiguity.empty())
                    stored.ambiguity = "no answer recorded (videodrop stopped while it was sent)";
                stored.reconcile_passes = 0;
                enter(stored, State::reconciling, "restarted while the create was on the wire",
                      out);
                break;
            case State::verifying:
                if (!stored.children.empty()) {  // a storyboard joins its kept shots again
                    enter(stored, State::joining, "restarted while verifying", out);
                    break;
                }
                [[fallthrough]];
            case State::downloading:
                stored.variants_done.clear();  // partial files are fetched again
                if (stored.state == State::verifying)
                    enter(stored, State::downloading, "restarted while verifying", out);
                break;
            default:
                // Publishing and failing are idempotent in the shell: finish what a crash
                // interrupted. A storyboard's effects wait for its shots to be read back.
                if (stored.children.empty())
                    resume_effect(stored, out);
                else
                    storyboards.push_back(&stored);
                break;
        }
        // A job whose provider left the configuration while videodrop was stopped.
        if (!is_terminal(stored.state) && stored.state != State::delivering)
            provider_or_fail(stored, out);
    }
    for (Job* storyboard : storyboards)
        resume_effect(*storyboard, out);
    return out;
}

}  // namespace vd
