// The job record: what the store persists and the engine changes (its state only through
// Engine::enter()).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pipeline/types.hpp"
#include "pipeline/verdict.hpp"
#include "pipeline/wait.hpp"

namespace vd {

enum class State {
    claimed,      // taken from the inbox, not yet looked at by the scheduler
    waiting,      // may not submit yet: rate limit, in-flight cap, budget, provider paused, backoff
    submitting,   // the create is (about to be) on the wire; recorded before it is sent
    reconciling,  // the create's outcome is unknown: looking for the video in the provider's list
    queued,       // the provider accepted it
    in_progress,  // rendering
    downloading,  // fetching the MP4 (and variants)
    joining,      // a storyboard: its verified shots joined into one MP4 (stream copy)
    verifying,    // probing the downloaded MP4
    delivering,   // publishing into outbox/
    delivered,    // terminal
    failed,       // terminal
    cancelled,    // terminal
};
std::string_view to_string(State s);
std::optional<State> parse_state(std::string_view s);
bool is_terminal(State s);
// Holds a provider slot (counts against max_in_flight).
bool is_in_flight(State s);

// A failure as written into failed/NAME.error.json.
struct JobError {
    std::string stage;  // intake|validate|budget|submit|generate|download|verify|deliver
    std::string code;
    std::string message;
    int http_status = 0;
    nlohmann::json provider_error;  // null when none
    std::string request_id;
    bool retryable = false;
    std::string hint;
    // The provider's video, when one was made (and paid for): a failure at download or verify
    // names it, and `retry` fetches it again instead of creating a new one.
    std::string video_id;
    int key_slot = 0;  // the key it was made with, beside video_id
    // A storyboard's shots as far as they got (prompt, seconds, video id, cost): the paid-for
    // ones are on record. Null when the job is no storyboard.
    nlohmann::json shots = {};

    // One named constructor per stage: JobError::submit("timeout", "...").
    static JobError make(std::string stage, std::string code, std::string message,
                         std::string hint = {});
    static JobError intake(std::string code, std::string message, std::string hint = {});
    static JobError validate(std::string code, std::string message, std::string hint = {});
    static JobError budget(std::string code, std::string message, std::string hint = {});
    static JobError submit(std::string code, std::string message, std::string hint = {});
    static JobError generate(std::string code, std::string message, std::string hint = {});
    static JobError download(std::string code, std::string message, std::string hint = {});
    static JobError verify(std::string code, std::string message, std::string hint = {});
    static JobError deliver(std::string code, std::string message, std::string hint = {});
};

struct Job {
    std::string id;  // unique per claim (the store assigns it); the name may repeat
    JobSpec spec;
    uint64_t seq = 0;  // arrival order
    State state = State::claimed;
    Wait wait;        // in `waiting`: what it waits for
    std::string why;  // the last change's reason in words (describe(wait) when waiting)

    int key_slot = 0;
    std::string video_id;
    std::string status_word;   // as the provider last said it
    std::string protocol;      // the provider's protocol when the job was taken
    std::string served_model;  // the model the provider named in its answer, when it did
    int progress = 0;
    std::string result_url;  // a dialect's direct link, when given
    std::string poll_url;    // where the provider said to poll, when it named a place
    // Whether result_url was read just now: a link is used once as read; a later fetch (a retry,
    // a restart) reads the video again first, since signed links expire. Runtime only.
    bool link_fresh = false;
    std::vector<std::string> request_ids;

    TimePoint discovered{}, submit_sent{}, submitted{}, progress_seen{}, completed{}, delivered{};
    std::optional<TimePoint> expires;  // provider download expiry
    TimePoint next_action{};           // when the engine should look at it again
    int progress_at_first_seen = 0;

    TimePoint first_submit{};   // the first create; job_timeout counts from here
    int submit_attempts = 0;    // creates sent (ambiguous ones included)
    int resubmits = 0;          // creates sent again after a reconcile found nothing
    std::string ambiguity;      // what the provider last answered to an ambiguous create
    int download_attempts = 0;  // video fetches started (failed transfers and verifications)
    int polls = 0;
    int retries = 0;  // consecutive retryable failures, for backoff
    int list_pages = 0;
    int reconcile_passes = 0;  // lists that did not show the video; two in a row prove it absent
    // The creates this job sent in the minute up to its latest one, by key slot. They go to disk
    // in the record written before each create, and a restart rebuilds each key's 60 s window
    // from the records (STATE/limits.json keeps only holds, slowed rates and pauses).
    struct SentCreate {
        int slot = 0;
        TimePoint at{};
    };
    std::vector<SentCreate> recent_creates = {};

    double cost_usd = 0;                      // estimated, reserved in the ledger at submit
    std::optional<double> reported_cost_usd;  // what the provider said it billed, when it did
    bool charged = false;

    std::vector<std::string> variants_done;     // downloaded into outbox/.tmp ("video" first)
    std::vector<std::string> variants_missing;  // asked for but not to be had; delivered without
    std::string output_name;                    // the published stem (cat, cat-2, ...)
    MediaInfo media;                            // what the probe read of the delivered video
    std::optional<JobError> error;

    bool awaiting =
        false;  // a request of the engine's is on the wire (runtime only, not persisted)
    std::string stream_pending;  // the unread end of a streamed answer (runtime only)

    // Storyboards (pipeline/engine_storyboard.cpp). A storyboard is a job whose shots are child
    // jobs: `children` names them (empty until the storyboard starts); a child names its
    // `parent` and its index `shot`, and with continuity waits for the last frame of the shot
    // before it (`needs_frame`).
    std::vector<std::string> children = {};
    std::string parent = {};
    int shot = 0;
    bool needs_frame = false;
};

void to_json(nlohmann::json& j, const JobError& e);
void from_json(const nlohmann::json& j, JobError& e);
void to_json(nlohmann::json& j, const JobSpec& s);
void from_json(const nlohmann::json& j, JobSpec& s);
void to_json(nlohmann::json& j, const Job& job);
void from_json(const nlohmann::json& j, Job& job);

}  // namespace vd
