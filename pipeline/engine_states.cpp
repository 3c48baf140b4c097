// The one way into a state, and what entering each state does.
//
// Every state change of a job goes through Engine::enter(): add, restore, reject, cancel and
// each answer alike. The work that belongs to a state is decided here, in one table, rather
// than at the call sites: whether the record is written, and which of the shell's effects the
// state stands for. Those effects (probe, deliver, fail) are idempotent on the shell's side, so
// restore() does them again for a job a crash left in such a state.
#include <array>

#include "pipeline/engine.hpp"
#include "pipeline/engine_util.hpp"

namespace vd {

using namespace engine_detail;

namespace {

enum class Effect { none, join, probe, deliver, fail };

struct OnEnter {
    bool persist;   // write the record (before the effect, and before what the caller adds)
    bool settled;   // no request of ours stays on the wire for the job
    Effect effect;  // the shell's work the state stands for
};

constexpr std::array<OnEnter, 13> kOnEnter{{
    /* claimed     */ {false, false, Effect::none},
    /* waiting     */ {true, false, Effect::none},
    /* submitting  */ {true, false, Effect::none},  // recorded before the create goes out
    /* reconciling */ {true, false, Effect::none},
    /* queued      */ {true, false, Effect::none},
    /* in_progress */ {true, false, Effect::none},
    /* downloading */ {true, false, Effect::none},
    /* joining     */ {true, false, Effect::join},    // a storyboard's shots into one MP4
    /* verifying   */ {false, false, Effect::probe},  // a restart fetches again anyway
    /* delivering  */ {true, false, Effect::deliver},
    /* delivered   */ {true, true, Effect::none},
    /* failed      */ {true, true, Effect::fail},
    /* cancelled   */ {true, true, Effect::fail},
}};

const OnEnter& on_enter(State s) {
    return kOnEnter[static_cast<size_t>(s)];
}

// A waiting reason decided afresh at every tick (a limit of the scheduler's) says nothing a
// restart would need: a claimed job that only queues behind one is not written.
bool recomputed(const Wait& w) {
    switch (w.kind) {
        case Wait::Kind::rate:
        case Wait::Kind::in_flight:
        case Wait::Kind::provider_hold:
        case Wait::Kind::provider_paused:
        case Wait::Kind::unconfigured:
            return true;
        default:
            return false;
    }
}

// Entered only to be written by the step that follows at once, so not written on entering:
// - a poll's "completed": the download's start writes the record (with its attempt count), and a
//   restart before it polls again, which says "completed" again;
// - a verified video about to be published: the shell writes the record with the name it is
//   published under before it publishes (a restart before that fetches and verifies again).
bool written_next(const Job& job, State from, State to) {
    if (to == State::downloading) return from == State::queued || from == State::in_progress;
    if (to == State::delivering) return job.parent.empty() && job.output_name.empty();
    return false;
}

}  // namespace

void Engine::enter(Job& job, State to, Reason why, Commands& out) {
    const State from = job.state;
    // Waiting again for the same reason changes nothing (the words are made from the reason):
    // a long queue behind a full provider is looked at on every tick, so this stays cheap.
    if (from == State::waiting && to == State::waiting && job.wait == why.wait) return;
    Wait wait = to == State::waiting ? std::move(why.wait) : Wait{};
    std::string words = to == State::waiting ? describe(wait) : std::move(why.note);
    if (from == to && job.why == words && job.wait == wait) return;
    if (is_in_flight(from) && !is_in_flight(to)) sched_.on_release(job.spec.provider, job.key_slot);
    if (!is_in_flight(from) && is_in_flight(to)) sched_.on_acquire(job.spec.provider, job.key_slot);
    std::string text = " " + std::string(to_string(from)) + " -> " + std::string(to_string(to));
    if (!words.empty()) text += " (" + words + ")";
    out.push_back(job_log(from == to ? Log::debug : Log::info, job, std::move(text)));
    if (to == State::failed && job.error)
        out.push_back(job_log(
            Log::warn, job,
            " failed at " + job.error->stage + ": " + job.error->code + ": " + job.error->message));
    job.state = to;
    job.why = std::move(words);
    job.wait = std::move(wait);

    const OnEnter& work = on_enter(to);
    if (work.settled) job.awaiting = false;
    bool quiet = (to == State::waiting && from == State::claimed && recomputed(job.wait)) ||
                 written_next(job, from, to);
    if (work.persist && !quiet) out.push_back(Persist{job});
    if (from != to) resume_effect(job, out);  // a new reason alone starts nothing again
}

void Engine::resume_effect(Job& job, Commands& out) {
    switch (on_enter(job.state).effect) {
        case Effect::none:
            break;
        case Effect::join:
            out.push_back(Join{job.id, job.children});
            break;
        case Effect::probe: {
            job.awaiting = true;
            Expectation e = expectation(job.spec, settings_.verify);
            // Each shot was within the tolerance of its length; the join adds their errors.
            if (!job.children.empty())
                e.duration_tolerance *= static_cast<int>(job.children.size());
            out.push_back(Probe{job.id, std::move(e), settings_.verify.level});
            break;
        }
        case Effect::deliver:
            out.push_back(Deliver{job, shots_of(job)});
            break;
        case Effect::fail:
            // A storyboard's shot has no inputs of its own: the storyboard takes its failure
            // at the next tick (advance_storyboard).
            if (job.parent.empty()) out.push_back(Fail{job});
            break;
    }
}

void Engine::fail(Job& job, JobError error, Commands& out) {
    if (error.hint.empty()) error.hint = hint_for(error.code);
    std::string why = error.stage + ": " + error.code;
    job.error = std::move(error);
    enter(job, State::failed, std::move(why), out);
}

Commands Engine::reject(const std::string& id, JobSpec spec, JobError error, TimePoint now) {
    Commands out;
    Job job;
    job.id = id;
    job.spec = std::move(spec);
    job.seq = next_seq_++;
    job.discovered = now;
    auto& stored = jobs_[id] = std::move(job);
    fail(stored, std::move(error), out);
    return out;
}

}  // namespace vd
