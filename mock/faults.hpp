// Where the mock's randomness and rate limits live: a seeded PRNG, so a run with the same requests
// in the same order injects the same faults, and the per-key sliding-window RPM limit on creates.
#pragma once

#include <cstdint>
#include <deque>
#include <mutex>
#include <random>
#include <string>
#include <unordered_map>

namespace vd::mock {

class Dice {
  public:
    explicit Dice(uint64_t seed) : rng_(seed) {}
    bool roll(double rate);       // true with probability `rate`
    int pick(int n);              // 0..n-1
    std::string hex(int digits);  // random lowercase hex

  private:
    std::mutex mu_;
    std::mt19937_64 rng_;
};

class RateLimiter {
  public:
    // Takes a slot for `key` at `now_ms`; returns 0, or the milliseconds until one frees up
    // (nothing taken) when `rpm` creates already happened in the last `window_ms`.
    int64_t acquire(const std::string& key, double rpm, int64_t now_ms, int64_t window_ms);
    // Gives back the slot taken at `at_ms` (the create was rejected after all).
    void release(const std::string& key, int64_t at_ms);

  private:
    std::mutex mu_;
    std::unordered_map<std::string, std::deque<int64_t>> taken_;
};

}  // namespace vd::mock
