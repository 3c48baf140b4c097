// The engine: every job, the scheduler, limits and budget, as one pure state machine.
// The shell feeds it events (with `now`) and carries out the commands it returns, in order.
#pragma once

#include <map>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "pipeline/http.hpp"
#include "pipeline/job.hpp"
#include "pipeline/ledger.hpp"
#include "pipeline/protocol.hpp"
#include "pipeline/scheduler.hpp"
#include "pipeline/verdict.hpp"

namespace vd {

enum class Purpose { create, poll, list, check };

// Commands, carried out by the shell in the order given.
struct Persist {  // write the job record (tmp + fsync + rename) before what follows
    Job job;
};
struct SendHttp {     // answer with Engine::on_http
    std::string job;  // empty for provider-level requests (credential checks)
    Purpose purpose;
    HttpRequest request;
};
struct Download {  // stream to outbox/.tmp/<job>.<variant>; answer with Engine::on_download
    std::string job;
    std::string variant;  // "video", "thumbnail", "spritesheet"
    HttpRequest request;
    int64_t max_bytes = 0;             // a longer body fails the attempt at once
    int64_t min_bytes_per_second = 0;  // slower than this over low_speed_time: cut
    Millis low_speed_time{0};
    Millis deadline{0};  // the whole transfer
};
struct Probe {  // probe the downloaded video; answer with Engine::on_probe
    std::string job;
    Expectation expect;
    VerifyLevel level = VerifyLevel::decode;
};
// Publish video + variants + sidecar; answer with Engine::on_delivered. A storyboard's shot
// (job.parent set) is kept for the join instead (state/shots), unpublished.
struct Deliver {
    Job job;
    std::vector<Job> shots = {};  // a storyboard's shots, in order, for its sidecar
};
// Join the kept shots (in order) into the storyboard's video by stream copy, written where its
// download would go; answer with Engine::on_joined.
struct Join {
    std::string job;
    std::vector<std::string> shots;
};
// The last frame of kept shot `from`, fitted to `size`, as the reference image of shot `job`;
// answer with Engine::on_frame.
struct ExtractFrame {
    std::string job;
    std::string from;
    Size size;
};
struct Fail {  // move the inputs to failed/ with NAME.error.json (job.error); no answer needed
    Job job;
};
struct RecordSpend {  // append to the persisted ledger
    LedgerEntry entry;
};
struct SaveLimits {  // write STATE/limits.json (durably) before what follows
    nlohmann::json limits;
};
struct Log {
    enum Level { debug, info, warn, error } level = info;
    std::string text;
    // What the line is about, for structured logs (journal fields, JSON keys); empty if nothing.
    std::string job, provider, video_id, request_id;
};

// A line about a provider: "provider NAME" + `text`, with the provider as a field.
inline Log provider_log(Log::Level level, const std::string& provider, std::string text) {
    return Log{level, "provider " + provider + text, {}, provider, {}, {}};
}

// A line about a job: "job=NAME" + `text`, with the job's name, provider, video id and latest
// request id as fields.
inline Log job_log(Log::Level level, const Job& job, std::string text) {
    return Log{level,         "job=" + job.spec.name + text,
               job.spec.name, job.spec.provider,
               job.video_id,  job.request_ids.empty() ? std::string() : job.request_ids.back()};
}

using Command = std::variant<Persist, SendHttp, Download, Probe, Deliver, Join, ExtractFrame, Fail,
                             RecordSpend, SaveLimits, Log>;
using Commands = std::vector<Command>;

struct DownloadResult {
    HttpResult http;    // status, headers, content type; body holds a small JSON answer, if any
    int64_t bytes = 0;  // bytes written to the file
};

class Engine {
  public:
    Engine(Settings settings, uint64_t seed);

    // Replaces limits and providers (SIGHUP); jobs are kept.
    void reconfigure(Settings settings);

    // A new job from the inbox.
    Commands add(const std::string& id, JobSpec spec, TimePoint now);
    // A claimed manifest that cannot become a job (unreadable, invalid, its image unusable):
    // it enters `failed` like any job, so its inputs go to failed/ with `error`. `spec` needs
    // name, manifest_file, companion_files and manifest (null when it did not parse).
    Commands reject(const std::string& id, JobSpec spec, JobError error, TimePoint now);
    // Jobs and spend read back at start; in-flight work resumes safely (a create whose outcome was
    // not recorded is reconciled, never resent blindly).
    // `limits` is the last SaveLimits snapshot (null when none); `creates` are the
    // Job::recent_creates of every record, the finished ones included.
    Commands restore(std::vector<Job> jobs, std::vector<LedgerEntry> ledger,
                     const nlohmann::json& limits,
                     const std::vector<Scheduler::SentCreate>& creates, TimePoint now);

    Commands on_http(const std::string& job, Purpose purpose, const HttpResult& r, TimePoint now);
    // A piece of a streamed answer (HttpRequest::stream) while it arrives: progress only; the
    // whole answer still comes to on_http.
    Commands on_stream(const std::string& job, std::string_view piece, TimePoint now);
    Commands on_download(const std::string& job, const std::string& variant,
                         const DownloadResult& r, TimePoint now);
    Commands on_probe(const std::string& job, const MediaInfo& info, TimePoint now);
    Commands on_delivered(const std::string& job, const std::string& output_name, TimePoint now);
    Commands cancel(const std::string& job, TimePoint now);
    // A storyboard's join finished: `error` empty when the video is in place.
    Commands on_joined(const std::string& job, const std::string& error, TimePoint now);
    // A shot's reference frame is ready at `image` (error empty), or could not be made.
    Commands on_frame(const std::string& job, const std::string& image, const std::string& error,
                      TimePoint now);

    // Starts what may start now (downloads first, then submits by priority and arrival), polls
    // what is due, enforces deadlines.
    Commands tick(TimePoint now);
    // When tick() next has something to do; nullopt when nothing is pending.
    std::optional<TimePoint> next_wake() const;

    // Finished jobs leave memory (their record, outputs and ledger lines are on disk), so a
    // daemon that runs for months holds and looks at only the jobs still at work. A storyboard's
    // shots stay while it is at work, and leave with it. The shell calls this between ticks;
    // `finished()` counts those gone, by state.
    void forget_finished();
    const std::map<State, int>& finished() const { return finished_; }

    const std::map<std::string, Job>& jobs() const { return jobs_; }
    const Job* find(const std::string& id) const;
    bool idle() const;              // every job terminal
    bool only_budget_held() const;  // every live job waits for budget
    const Ledger& ledger() const { return ledger_; }
    const Scheduler& scheduler() const { return sched_; }
    const Settings& settings() const { return settings_; }

  private:
    // Why a job enters a state: a waiting reason as data, or a note in words for the others.
    struct Reason {
        Wait wait;
        std::string note;
        Reason(std::string n = {}) : note(std::move(n)) {}
        Reason(const char* n) : note(n) {}
        Reason(Wait w) : wait(std::move(w)) {}
    };
    // The one way into a state (engine_states.cpp): logs `job=NAME a -> b (why)`, keeps the
    // scheduler's in-flight count, and does the state's on-enter work from one table (write
    // the record, probe, deliver, fail). Set what the record should hold before calling it.
    void enter(Job& job, State to, Reason why, Commands& out);
    // The on-enter work that stands for a state (probe, deliver, fail), done again after a
    // restart found a job there: the shell's side of each is idempotent.
    void resume_effect(Job& job, Commands& out);
    void fail(Job& job, JobError error, Commands& out);
    // The job's provider, or nullptr after failing the job when its provider has left the
    // configuration.
    const ProviderSettings* provider_or_fail(Job& job, Commands& out);
    // Why this job's cost can never be spent under the caps (nullopt when it may some day).
    std::optional<JobError> never_affordable(const Job& job) const;
    void save_limits(Commands& out);
    static JobError ambiguous_create(const Job& job, const std::string& what, const HttpResult& r);
    // A create whose outcome is unknown at a provider with no list to look in (a broken answer
    // stream included): it fails, or with resubmit_lost_stream is sent once more, reserved anew.
    void lost_unlistable(Job& job, const protocol::Protocol& proto, const ProviderSettings& p,
                         Commands& out);
    void fail_download(Job& job, JobError error, Commands& out);
    void retry_download(Job& job, const std::string& why, std::optional<Millis> retry_after,
                        TimePoint now, Commands& out);
    void enforce_deadline(Job& job, TimePoint now, Commands& out);
    // The provider's protocol's classification, with an asked wait cut to
    // polling.max_provider_wait.
    protocol::Classified classify(const ProviderSettings& p, const HttpResult& r, bool is_create,
                                  TimePoint now, const std::string& who, Commands& out) const;
    std::optional<Millis> cap_wait(std::optional<Millis> asked, const std::string& who,
                                   const char* what, Commands& out) const;
    void refund(Job& job, TimePoint now, Commands& out);
    double jitter();
    const ProviderSettings* provider(const Job& job) const;

    void on_create(Job& job, const HttpResult& r, TimePoint now, Commands& out);
    void on_poll(Job& job, const HttpResult& r, TimePoint now, Commands& out);
    // The video read again before fetching a link that may have expired.
    void on_link_refresh(Job& job, const HttpResult& r, TimePoint now, Commands& out);
    // A poll of the job's video: where the provider said to ask, or the protocol's place.
    HttpRequest status_request(const Job& job, const ProviderSettings& p) const;
    void on_list(Job& job, const HttpResult& r, TimePoint now, Commands& out);
    void on_check(const std::string& target, const HttpResult& r, TimePoint now, Commands& out);
    void adopt_remix_shape(Job& job, const protocol::Video& v, TimePoint now, Commands& out);
    void apply_video(Job& job, const protocol::Video& v, const HttpResult& r, TimePoint now,
                     Commands& out);
    void start_submit(Job& job, int slot, TimePoint now, Commands& out);
    void start_download(Job& job, TimePoint now, Commands& out);
    void after_verified(Job& job, TimePoint now, Commands& out);
    void pause_provider(Job* job, const std::string& provider, int slot, const std::string& why,
                        TimePoint now, Commands& out);

    // Storyboards (engine_storyboard.cpp): started once its whole cost fits the budget, its
    // shots made as child jobs, then joined.
    void start_storyboard(Job& job, TimePoint now, Commands& out);
    // Whether its shots were recorded (and reserved) before a crash cut its own record short.
    bool shots_reserved(const Job& job) const;
    // After any change of a shot: the storyboard fails with a failed shot, joins when every
    // shot is kept, and asks for the frame the next shot starts from (continuity).
    void advance_storyboard(Job& job, TimePoint now, Commands& out);
    void fail_storyboard(Job& job, const Job& shot, TimePoint now, Commands& out);
    nlohmann::json shot_records(const Job& job) const;
    std::vector<Job> shots_of(const Job& job) const;
    Job* parent_of(const Job& job);

    // The job's provider speaks this protocol (nullptr when it is not configured).
    const protocol::Protocol* protocol_of(const ProviderSettings& p) const;

    Settings settings_;
    Scheduler sched_;
    Ledger ledger_;
    std::map<std::string, Job> jobs_;
    std::map<State, int> finished_;        // jobs forgotten by forget_finished(), by state
    std::set<std::string> checking_;       // provider key slots whose credentials are being checked
    std::optional<TimePoint> sched_wake_;  // when a rate-limited submit may go, from the last tick
    TimePoint last_tick_{};
    uint64_t rng_;
    uint64_t next_seq_ = 1;
};

}  // namespace vd
