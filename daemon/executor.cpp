#include "daemon/executor.hpp"

#include "daemon/logging.hpp"

#include <set>

#include <spdlog/spdlog.h>

namespace vd {

Executor::Executor(std::unique_ptr<Engine> engine, Ports ports, Hooks hooks)
    : engine_(std::move(engine)), ports_(ports), hooks_(std::move(hooks)) {}

void Executor::restore(std::vector<Job> records, std::vector<LedgerEntry> ledger,
                       const nlohmann::json& limits) {
    // Storyboards still at work: their shots, finished ones included, go back to the engine
    // (also shots written just before a crash cut the storyboard's own record short: it takes
    // them up instead of reserving them again).
    std::set<std::string> storyboards;
    // Every record's creates of the last minute count against its key, a finished job's too.
    std::vector<Scheduler::SentCreate> creates;
    for (const auto& job : records) {
        if (!job.spec.shots.empty() && (!is_terminal(job.state) || ports_.state.has_claim(job.id)))
            storyboards.insert(job.id);
        for (const auto& c : job.recent_creates)
            creates.push_back({job.spec.provider, c.slot, c.at});
    }
    std::vector<Job> jobs;
    for (auto& job : records) {
        if (!job.parent.empty()) {
            if (storyboards.count(job.parent)) jobs.push_back(std::move(job));
            continue;
        }
        // A finished job whose inputs are already in failed/ or whose outputs are published
        // needs nothing more.
        if (is_terminal(job.state) && !ports_.state.has_claim(job.id)) continue;
        // Published and recorded, then stopped before its claim folder went: finish that.
        if (job.state == State::delivered) {
            if (hooks_.outcome) hooks_.outcome(job, job.output_name);
            if (auto r = ports_.state.remove_claim(job.id); !r)
                spdlog::error("state: {}", r.error());
            continue;
        }
        jobs.push_back(std::move(job));
    }
    if (!jobs.empty()) spdlog::info("state: resuming {} job(s)", jobs.size());
    execute(engine_->restore(std::move(jobs), std::move(ledger), limits, creates, now()));
}

void Executor::after(const Commands& commands, bool tick) {
    if (stopped_) return;
    execute(commands);
    if (!tick || stopped_) return;
    if (hooks_.tick_soon)
        hooks_.tick_soon();
    else
        this->tick();
}

void Executor::tick() {
    if (stopped_) return;
    engine_->forget_finished();
    execute(engine_->tick(now()));
    if (hooks_.settled) hooks_.settled();
}

void Executor::execute(const Commands& commands) {
    for (const auto& c : commands) {
        if (stopped_) return;
        std::visit([this](const auto& cmd) { carry_out(cmd); }, c);
    }
}

void Executor::carry_out(const Persist& p) {
    if (auto r = ports_.state.save(p.job); !r)
        carry_out(job_log(Log::error, p.job, " could not be recorded: " + r.error()));
}

void Executor::carry_out(const RecordSpend& r) {
    if (auto ok = ports_.state.append_ledger(r.entry); !ok)
        spdlog::error("spend ledger: {}", ok.error());
}

void Executor::carry_out(const SaveLimits& l) {
    if (auto r = ports_.state.save_limits(l.limits); !r) spdlog::error("limits: {}", r.error());
}

void Executor::carry_out(const Log& l) {
    spdlog::level::level_enum level = spdlog::level::info;
    switch (l.level) {
        case Log::debug:
            level = spdlog::level::debug;
            break;
        case Log::info:
            break;
        case Log::warn:
            level = spdlog::level::warn;
            break;
        case Log::error:
            level = spdlog::level::err;
            break;
    }
    log_with_fields(level, {l.job, l.provider, l.video_id, l.request_id}, l.text);
}

void Executor::carry_out(const SendHttp& s) {
    ports::Http::Piece piece;
    if (s.request.stream)
        // Progress only (a record written, a line logged): nothing that sends.
        piece = [this, job = s.job](std::string_view p) {
            if (!stopped_) execute(engine_->on_stream(job, p, now()));
        };
    ports_.http.send(
        s.request,
        [this, job = s.job, purpose = s.purpose](HttpResult r) {
            if (stopped_) return;
            if (!r.request_id().empty())
                spdlog::debug("job={} x-request-id {}", job, r.request_id());
            after(engine_->on_http(job, purpose, r, now()));
        },
        std::move(piece));
}

void Executor::carry_out(const Download& d) {
    ports_.http.download(d, ports_.files.download_path(d.job, d.variant),
                         [this, job = d.job, variant = d.variant](HttpResult r, int64_t bytes) {
                             if (stopped_) return;
                             DownloadResult result{std::move(r), bytes};
                             after(engine_->on_download(job, variant, result, now()));
                         });
}

void Executor::carry_out(const Probe& p) {
    ports_.media.probe(ports_.files.download_path(p.job, "video"), p.level == VerifyLevel::decode,
                       [this, job = p.job](MediaInfo info) {
                           if (stopped_) return;
                           after(engine_->on_probe(job, info, now()));
                       });
}

// Three effects, each safe to cut short: the name is chosen and recorded before anything is
// published (a restart publishes under the same name), publishing finds its own earlier work,
// and the claim goes only after the delivered record is written.
void Executor::carry_out(const Deliver& d) {
    Job job = d.job;
    if (!job.parent.empty()) {  // a storyboard's shot: kept for the join, not published
        if (auto kept = ports_.files.keep_shot(job); !kept) {
            carry_out(
                job_log(Log::error, job,
                        " could not be kept: " + kept.error() + " (kept again at the next start)"));
            return;
        }
        execute(engine_->on_delivered(job.id, "", now()));
        return;
    }
    if (job.output_name.empty()) {
        job.output_name = ports_.files.choose_output_name(job.spec.name);
        carry_out(Persist{job});
    }
    TimePoint t = now();
    auto stem = ports_.files.publish(job, d.shots, t);
    if (!stem) {
        carry_out(job_log(Log::error, job,
                          " could not be published: " + stem.error() +
                              " (it stays ready and is published again at the next start)"));
        return;
    }
    carry_out(
        job_log(Log::info, job, " delivered: " + ports_.files.outbox() + "/" + *stem + ".mp4"));
    execute(engine_->on_delivered(job.id, *stem, t));
    const Job* done = engine_->find(job.id);
    if (done && hooks_.outcome) hooks_.outcome(*done, *stem);
    if (auto r = ports_.state.remove_claim(job.id); !r) spdlog::error("state: {}", r.error());
    ++delivered_;
    if (done && hooks_.finished) hooks_.finished(*done);
}

void Executor::carry_out(const Join& j) {
    std::vector<std::string> shots;
    for (size_t k = 0; k < j.shots.size(); ++k)
        shots.push_back(ports_.files.shot_path(j.job, static_cast<int>(k), "mp4"));
    ports_.media.join(std::move(shots), ports_.files.download_path(j.job, "video"),
                      [this, job = j.job](std::string error) {
                          if (stopped_) return;
                          after(engine_->on_joined(job, error, now()));
                      });
}

void Executor::carry_out(const ExtractFrame& f) {
    const Job* shot = engine_->find(f.job);
    const Job* from = engine_->find(f.from);
    if (!shot || !from) return;
    std::string png = ports_.files.shot_path(shot->parent, shot->shot, "png");
    ports_.media.last_frame(ports_.files.shot_path(from->parent, from->shot, "mp4"), f.size, png,
                            [this, job = f.job, png](std::string error) {
                                if (stopped_) return;
                                after(engine_->on_frame(job, png, error, now()));
                            });
}

void Executor::carry_out(const Fail& f) {
    const Job& job = f.job;
    auto moved = ports_.files.fail(job);
    if (!moved) {
        carry_out(
            job_log(Log::error, job,
                    " could not be moved to " + ports_.files.failed() + ": " + moved.error()));
        return;
    }
    if (moved->empty()) return;  // moved and told already, before a restart
    JobError e = job.error.value_or(JobError::deliver("unknown", ""));
    carry_out(job_log(Log::warn, job,
                      " -> " + ports_.files.failed() + "/" + *moved + ".error.json (" + e.stage +
                          ": " + e.code + ")"));
    if (hooks_.outcome) hooks_.outcome(job, *moved);
    if (auto r = ports_.state.remove_claim(job.id); !r) spdlog::error("state: {}", r.error());
    ++failed_;
    if (hooks_.finished) hooks_.finished(job);
}

}  // namespace vd
