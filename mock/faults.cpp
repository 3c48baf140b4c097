#include "mock/faults.hpp"

#include <algorithm>

namespace vd::mock {

bool Dice::roll(double rate) {
    if (rate <= 0) return false;
    std::lock_guard lock(mu_);
    return std::uniform_real_distribution<double>(0, 1)(rng_) < rate;
}

int Dice::pick(int n) {
    std::lock_guard lock(mu_);
    return std::uniform_int_distribution<int>(0, n - 1)(rng_);
}

std::string Dice::hex(int digits) {
    static const char* h = "0123456789abcdef";
    std::lock_guard lock(mu_);
    std::string out;
    for (int i = 0; i < digits; ++i)
        out += h[rng_() & 15];
    return out;
}

int64_t RateLimiter::acquire(const std::string& key, double rpm, int64_t now_ms,
                             int64_t window_ms) {
    const int64_t kWindow = std::max<int64_t>(1, window_ms);
    if (rpm <= 0) return 0;
    auto limit = std::max<size_t>(1, static_cast<size_t>(rpm));
    std::lock_guard lock(mu_);
    auto& q = taken_[key];
    while (!q.empty() && q.front() <= now_ms - kWindow)
        q.pop_front();
    if (q.size() >= limit) return std::max<int64_t>(1, q.front() + kWindow - now_ms);
    q.push_back(now_ms);
    return 0;
}

void RateLimiter::release(const std::string& key, int64_t at_ms) {
    std::lock_guard lock(mu_);
    auto& q = taken_[key];
    if (auto it = std::find(q.rbegin(), q.rend(), at_ms); it != q.rend())
        q.erase(std::next(it).base());
}

}  // namespace vd::mock
