// Who may submit now: per provider key, a token bucket for creates, a cap on jobs in flight,
// Retry-After holds, a rate that slows after 429 and recovers, and pauses for fatal errors.
#pragma once

#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pipeline/types.hpp"
#include "pipeline/wait.hpp"

namespace vd {

// Creates per minute as a token bucket that holds at most a tenth of a minute's worth (so creates
// are spread out rather than sent in one burst), refilled continuously.
struct TokenBucket {
    double tokens = -1;  // < 0: not started, full at first use
    TimePoint last{};
    static double capacity(double per_minute);
    void refill(double per_minute, TimePoint now);
    // When one token will be there (now, if it is).
    TimePoint ready_at(double per_minute, TimePoint now) const;
};

// The window submits_per_minute counts creates in.
inline constexpr Millis kCreateWindow{60 * 1000};

struct KeyState {
    TokenBucket bucket;
    // Creates of the last minute: a hard guarantee that no 60 s window holds more than
    // submits_per_minute, whatever the bucket allowed.
    std::deque<TimePoint> recent;
    int in_flight = 0;
    TimePoint hold_until{};  // Retry-After
    double slowdown = 1.0;   // 1 = full rate; halves on 429, recovers on success
    bool paused = false;     // credentials rejected or quota exhausted
    std::string pause_reason;
    TimePoint next_check{};  // when to try the credentials again
    int creates_sent = 0;
};

class Scheduler {
  public:
    void configure(const std::map<std::string, ProviderSettings>& providers);

    // The key slot a job of this provider may submit with now, or why it may not and when to
    // look again.
    struct Decision {
        std::optional<int> slot;
        Wait why;
        TimePoint retry_at{};
    };
    Decision can_submit(const std::string& provider, TimePoint now) const;
    void on_submit(const std::string& provider, int slot, TimePoint now);  // takes a token
    // A job entered or left flight (the engine calls these on state changes only).
    void on_acquire(const std::string& provider, int slot);
    void on_release(const std::string& provider, int slot);
    void on_rate_limited(const std::string& provider, int slot, Millis retry_after, TimePoint now);
    void on_success(const std::string& provider, int slot);
    void pause(const std::string& provider, int slot, std::string reason, TimePoint next_check);
    void resume(const std::string& provider, int slot);

    // What must outlive a restart besides the creates, so that a hold and a pause keep their
    // deadlines: per key, the Retry-After hold, the slowed rate and a pause. The state folder
    // keeps it as STATE/limits.json, written when one of them changes.
    nlohmann::json snapshot() const;
    // The creates of the last minute come back from the job records (Job::recent_creates), so
    // that no 60 s window ever holds more creates than allowed; a snapshot from before that
    // carries them itself, and they are read too.
    struct SentCreate {
        std::string provider;
        int slot = 0;
        TimePoint at{};
    };
    void restore(const nlohmann::json& snapshot, const std::vector<SentCreate>& creates,
                 TimePoint now);

    const KeyState* key(const std::string& provider, int slot) const;
    bool paused(const std::string& provider) const;  // every key paused
    // Creates sent per key in one window of time, for invariant checks.
    const std::map<std::string, std::vector<KeyState>>& keys() const { return keys_; }

  private:
    KeyState* mut(const std::string& provider, int slot);
    std::map<std::string, ProviderSettings> providers_;
    std::map<std::string, std::vector<KeyState>> keys_;
};

// Capped exponential backoff with jitter in [0, 1): min(base * 2^n, cap) minus up to 25%.
Millis backoff(int attempt, double jitter, Millis base = Millis{500}, Millis cap = Millis{8000});

// When to poll next: between min and max interval, near the predicted completion from the
// progress reported so far (past max_interval when the rate has been watched for longer than
// that), never before the provider's poll-after hint.
TimePoint next_poll(const PollSettings& s, TimePoint now, TimePoint progress_seen,
                    int progress_at_first_seen, int progress, int polls,
                    std::optional<Millis> poll_after);

}  // namespace vd
