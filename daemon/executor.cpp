#include "daemon/executor.hpp"

#include "daemon/logging.hpp"

#include <spdlog/spdlog.h>

namespace vd {

Executor::Executor(std::unique_ptr<Engine> engine, Ports ports, Hooks hooks)
    : engine_(std::move(engine)), ports_(ports), hooks_(std::move(hooks)) {}

void Executor::restore(std::vector<Job> records, std::vector<LedgerEntry> ledger,
                       const nlohmann::json& limits) {
    std::vector<Job> jobs;
    for (auto& job : records) {
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
    execute(engine_->restore(std::move(jobs), std::move(ledger), limits, now()));
}

void Executor::after(const Commands& commands, bool tick) {
    if (stopped_) return;
    execute(commands);
    if (!tick || stopped_) return;
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
    if (job.output_name.empty()) {
        job.output_name = ports_.files.choose_output_name(job.spec.name);
        carry_out(Persist{job});
    }
    TimePoint t = now();
    auto stem = ports_.files.publish(job, t);
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
