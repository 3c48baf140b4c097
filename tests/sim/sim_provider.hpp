// A fake provider for the deterministic simulation: the OpenAI Videos protocol as pure data, with
// faults drawn from a seeded generator. It answers the HttpRequests the engine builds.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "pipeline/http.hpp"
#include "pipeline/types.hpp"

namespace vd::sim {

struct Rng {
    uint64_t state;
    uint64_t next() {
        state += 0x9E3779B97F4A7C15ULL;
        uint64_t z = state;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        return z ^ (z >> 31);
    }
    double uniform() { return double(next() >> 11) * 0x1.0p-53; }
    bool chance(double p) { return uniform() < p; }
    int64_t between(int64_t lo, int64_t hi) { return lo + int64_t(next() % uint64_t(hi - lo + 1)); }
};

struct Faults {
    double not_sent = 0.02;           // connection refused: nothing reached the provider
    double server_error = 0.03;       // 5xx on any request
    double lost_answer = 0.03;        // the request went out, the answer never came back
    double effect_before_loss = 0.5;  // of lost or 5xx creates, share that created the video
    double rate_limited = 0.02;       // a spurious 429 with retry-after
    double stall = 0.01;              // a video that never finishes
    double truncated = 0.05;          // a download whose file fails verification
    int provider_rpm = 0;             // creates per minute per key the provider allows (0 = none)
    TimePoint revoked_from{}, revoked_until{};  // key 0 answers 401 in this window
};

struct SimVideo {
    std::string id;
    std::string prompt, model, size;
    int seconds = 0;
    int key_slot = 0;
    TimePoint created, ready;
    bool stalled = false;
    bool moderated = false;
};

class Provider {
  public:
    Provider(Faults faults, uint64_t seed) : faults_(faults), rng_{seed} {}

    // What the provider does with a request at `now`. `answered` is false when the answer is lost
    // (the effect, if any, stands).
    HttpResult handle(const HttpRequest& req, TimePoint now, bool& answered);
    // Whether a download answered at `now` would carry a broken file.
    bool truncated_download() { return rng_.chance(faults_.truncated); }

    const std::map<std::string, SimVideo>& videos() const { return videos_; }
    // Creates that reached the provider, per key slot, with their times.
    const std::map<int, std::vector<TimePoint>>& creates() const { return creates_; }
    Rng& rng() { return rng_; }

  private:
    HttpResult create(const HttpRequest& req, TimePoint now);
    HttpResult video_json(const SimVideo& v, TimePoint now) const;
    HttpResult list(const std::string& query, TimePoint now) const;

    Faults faults_;
    Rng rng_;
    std::map<std::string, SimVideo> videos_;
    std::vector<std::string> order_;  // creation order
    std::map<int, std::vector<TimePoint>> creates_;
    std::map<int, std::deque<TimePoint>> window_;
    uint64_t next_id_ = 1;
};

}  // namespace vd::sim
