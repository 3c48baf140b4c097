// Storyboards at providers that make one shot a generation (openai-videos).
//
// A storyboard is a job whose shots are child jobs. It starts only when its whole cost fits the
// budget: each shot's cost is reserved then, before the first create, so a cap is never
// crossed halfway. The shots go through the normal limits, reconcile and download logic, and a
// verified shot is kept (state/shots) instead of published. Without continuity they run side
// by side; with it each waits for the last frame of the one before as its reference image.
// When every shot is kept, the storyboard joins them by stream copy, verifies the result and
// publishes it. A failed shot fails the storyboard; the others stop, and the shots already
// paid for are on record in its error.
//
// The state of a storyboard is read from its shots at each tick (advance_storyboard), so a
// restart resumes it from the records alone: a kept shot is never made again.
#include <algorithm>

#include "pipeline/engine.hpp"
#include "pipeline/engine_util.hpp"

namespace vd {

using namespace engine_detail;

namespace {

std::string shot_id(const std::string& parent, size_t k) {
    return parent + "-shot" + std::to_string(k + 1);
}

bool before_create(const Job& job) {
    return job.state == State::claimed || job.state == State::waiting;
}

}  // namespace

Job* Engine::parent_of(const Job& job) {
    auto it = jobs_.find(job.parent);
    return it == jobs_.end() ? nullptr : &it->second;
}

std::vector<Job> Engine::shots_of(const Job& job) const {
    std::vector<Job> shots;
    for (const auto& id : job.children)
        if (const Job* s = find(id)) shots.push_back(*s);
    return shots;
}

nlohmann::json Engine::shot_records(const Job& job) const {
    nlohmann::json records = nlohmann::json::array();
    for (const Job& s : shots_of(job)) {
        nlohmann::json r = {{"shot", s.shot + 1},
                            {"prompt", s.spec.prompt},
                            {"seconds", s.spec.seconds},
                            {"state", to_string(s.state)},
                            {"cost_usd", s.cost_usd}};
        // A shot that reached the provider may have been billed, found or not.
        r["paid"] = is_submitted(s);
        if (!s.video_id.empty()) r["video_id"] = s.video_id;
        if (!s.media.sha256.empty()) r["sha256"] = s.media.sha256;
        records.push_back(std::move(r));
    }
    return records;
}

bool Engine::shots_reserved(const Job& job) const {
    return job.children.empty() && !job.spec.shots.empty() && find(shot_id(job.id, 0));
}

void Engine::start_storyboard(Job& job, TimePoint now, Commands& out) {
    const ProviderSettings* p = provider_or_fail(job, out);
    if (!p) return;
    const auto& shots = job.spec.shots;
    job.children.clear();
    for (size_t k = 0; k < shots.size(); ++k) {
        std::string id = shot_id(job.id, k);
        job.children.push_back(id);
        // Made before a restart that came before the storyboard's own record was written:
        // reserved already, and perhaps on its way.
        if (jobs_.count(id)) continue;
        Job shot;
        shot.id = id;
        shot.spec = job.spec;
        shot.spec.name = job.spec.name + "-shot" + std::to_string(k + 1);
        shot.spec.seconds = shots[k].seconds;
        shot.spec.prompt = shots[k].prompt;
        shot.spec.shots.clear();
        shot.spec.continuity = false;
        shot.spec.variants.clear();
        shot.spec.manifest_file.clear();
        shot.spec.companion_files.clear();
        shot.parent = job.id;
        shot.shot = static_cast<int>(k);
        shot.needs_frame = job.spec.continuity && k > 0;
        shot.seq = next_seq_++;
        shot.discovered = now;
        shot.next_action = now;
        shot.protocol = p->protocol;
        shot.cost_usd = estimate_cost(shot.spec, *p);
        LedgerEntry e{now, id, shot.cost_usd};
        ledger_.add(e);
        out.push_back(RecordSpend{e});
        shot.charged = true;
        Job& stored = jobs_[id] = std::move(shot);
        if (stored.needs_frame)
            enter(stored, State::waiting, Wait::previous_shot(static_cast<int>(k)), out);
        else
            out.push_back(Persist{stored});
    }
    out.push_back(job_log(Log::info, job,
                          " storyboard of " + std::to_string(shots.size()) + " shots started (" +
                              usd(job.cost_usd) + " reserved)"));
    enter(job, State::waiting, Wait::shots(0, static_cast<int>(shots.size())), out);
}

void Engine::advance_storyboard(Job& job, TimePoint now, Commands& out) {
    if (is_terminal(job.state) || job.children.empty()) return;
    int kept = 0;
    for (const auto& id : job.children) {
        auto it = jobs_.find(id);
        if (it == jobs_.end()) continue;
        Job& shot = it->second;
        if (shot.state == State::failed || shot.state == State::cancelled)
            return fail_storyboard(job, shot, now, out);
        if (shot.state == State::delivered) ++kept;
    }
    const int n = static_cast<int>(job.children.size());
    if (job.state != State::waiting) return;  // joining, verifying or publishing already
    if (kept == n) {
        enter(job, State::joining, std::to_string(n) + " shots kept", out);
        return;
    }
    enter(job, State::waiting, Wait::shots(kept, n), out);
    // Continuity: a shot starts from the last frame of the one before, once that one is kept.
    for (int k = 1; k < n; ++k) {
        auto it = jobs_.find(job.children[k]);
        const Job* prev = find(job.children[k - 1]);
        if (it == jobs_.end() || !prev) continue;
        Job& shot = it->second;
        if (!shot.needs_frame || shot.awaiting || prev->state != State::delivered) continue;
        shot.awaiting = true;
        out.push_back(ExtractFrame{shot.id, prev->id, shot.spec.size});
    }
}

void Engine::fail_storyboard(Job& job, const Job& shot, TimePoint now, Commands& out) {
    const int n = static_cast<int>(job.children.size());
    JobError e = shot.error.value_or(JobError::generate("shot_failed", "the shot failed"));
    e.message = "shot " + std::to_string(shot.shot + 1) + " of " + std::to_string(n) + " (" +
                shot.spec.name + "): " + e.message;
    // `retry` makes the storyboard anew; a single shot's video is not the storyboard's.
    e.video_id.clear();
    e.hint = (e.hint.empty() ? hint_for(e.code) : e.hint) +
             " (retry makes the whole storyboard again; the shots listed as paid were billed)";
    // The other shots stop: those not yet sent get their reservation back.
    for (const auto& id : job.children) {
        auto it = jobs_.find(id);
        if (it == jobs_.end() || is_terminal(it->second.state)) continue;
        Job& other = it->second;
        if (before_create(other) && other.resubmits == 0) refund(other, now, out);
        other.error = JobError::generate(
            "cancelled", "shot " + std::to_string(shot.shot + 1) + " of the storyboard failed");
        enter(other, State::cancelled, "the storyboard failed", out);
    }
    e.shots = shot_records(job);
    fail(job, std::move(e), out);
}

Commands Engine::on_joined(const std::string& id, const std::string& error, TimePoint now) {
    Commands out;
    auto it = jobs_.find(id);
    if (it == jobs_.end() || it->second.state != State::joining) return out;
    Job& job = it->second;
    if (error.empty()) {
        job.completed = now;
        enter(job, State::verifying, "shots joined", out);
        return out;
    }
    JobError e = JobError::verify("join_failed", "the shots could not be joined: " + error,
                                  "the shots were made and paid for; `videodrop retry NAME` "
                                  "makes the storyboard again");
    e.shots = shot_records(job);
    fail(job, std::move(e), out);
    return out;
}

Commands Engine::on_frame(const std::string& id, const std::string& image, const std::string& error,
                          TimePoint now) {
    Commands out;
    auto it = jobs_.find(id);
    if (it == jobs_.end() || !it->second.needs_frame || is_terminal(it->second.state)) return out;
    Job& shot = it->second;
    shot.awaiting = false;
    if (!error.empty()) {
        fail(
            shot,
            JobError::submit("frame_failed", "the last frame of shot " + std::to_string(shot.shot) +
                                                 " could not be read: " + error),
            out);
        return out;
    }
    shot.spec.image = image;
    shot.needs_frame = false;
    shot.next_action = now;
    out.push_back(job_log(Log::info, shot,
                          " starts from the last frame of shot " + std::to_string(shot.shot)));
    out.push_back(Persist{shot});
    return out;
}

}  // namespace vd
