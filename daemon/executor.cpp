#include "daemon/executor.hpp"

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
        spdlog::error("job={} could not be recorded: {}", p.job.spec.name, r.error());
}

void Executor::carry_out(const RecordSpend& r) {
    if (auto ok = ports_.state.append_ledger(r.entry); !ok)
        spdlog::error("spend ledger: {}", ok.error());
}

void Executor::carry_out(const SaveLimits& l) {
    if (auto r = ports_.state.save_limits(l.limits); !r) spdlog::error("limits: {}", r.error());
}

void Executor::carry_out(const Log& l) {
    switch (l.level) {
        case Log::debug:
            spdlog::debug("{}", l.text);
            break;
        case Log::info:
            spdlog::info("{}", l.text);
            break;
        case Log::warn:
            spdlog::warn("{}", l.text);
            break;
        case Log::error:
            spdlog::error("{}", l.text);
            break;
    }
}

void Executor::carry_out(const SendHttp& s) {
    ports_.http.send(s.request, [this, job = s.job, purpose = s.purpose](HttpResult r) {
        if (stopped_) return;
        if (!r.request_id().empty()) spdlog::debug("job={} x-request-id {}", job, r.request_id());
        after(engine_->on_http(job, purpose, r, now()));
    });
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
        spdlog::error(
            "job={} could not be published: {} (it stays ready and is published again at the "
            "next start)",
            job.spec.name, stem.error());
        return;
    }
    spdlog::info("job={} delivered: {}/{}.mp4", job.spec.name, ports_.files.outbox(), *stem);
    execute(engine_->on_delivered(job.id, *stem, t));
    if (auto r = ports_.state.remove_claim(job.id); !r) spdlog::error("state: {}", r.error());
    ++delivered_;
    if (const Job* done = engine_->find(job.id); done && hooks_.finished) hooks_.finished(*done);
}

void Executor::carry_out(const Fail& f) {
    const Job& job = f.job;
    auto moved = ports_.files.fail(job);
    if (!moved) {
        spdlog::error("job={} could not be moved to {}: {}", job.spec.name, ports_.files.failed(),
                      moved.error());
        return;
    }
    if (moved->empty()) return;  // moved already, before a restart
    JobError e = job.error.value_or(JobError::deliver("unknown", ""));
    spdlog::warn("job={} -> {}/{}.error.json ({}: {})", job.spec.name, ports_.files.failed(),
                 *moved, e.stage, e.code);
    ++failed_;
    if (hooks_.finished) hooks_.finished(job);
}

}  // namespace vd
