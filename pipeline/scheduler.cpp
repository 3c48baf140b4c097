#include "pipeline/scheduler.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

namespace vd {

namespace {

double effective_rate(const ProviderSettings& p, const KeyState& k) {
    return std::max(p.submits_per_minute * k.slowdown, 0.1);
}

// How many creates one key may have sent within the last minute.
int window_limit(const ProviderSettings& p, const KeyState& k) {
    return std::max(1, static_cast<int>(std::floor(effective_rate(p, k) + 1e-9)));
}

}  // namespace

double TokenBucket::capacity(double per_minute) {
    return std::max(1.0, per_minute / 10.0);
}

void TokenBucket::refill(double per_minute, TimePoint now) {
    double cap = capacity(per_minute);
    if (tokens < 0) {
        tokens = cap;
        last = now;
        return;
    }
    if (now > last) {
        tokens = std::min(cap, tokens + per_minute * double((now - last).count()) / 60000.0);
        last = now;
    }
}

TimePoint TokenBucket::ready_at(double per_minute, TimePoint now) const {
    if (tokens < 0) return now;
    double have = std::min(
        capacity(per_minute),
        tokens + per_minute * double(std::max<int64_t>(0, (now - last).count())) / 60000.0);
    if (have >= 1.0) return now;
    double ms = (1.0 - have) * 60000.0 / per_minute;
    return now + Millis{static_cast<int64_t>(std::ceil(ms))};
}

void Scheduler::configure(const std::map<std::string, ProviderSettings>& providers) {
    providers_ = providers;
    for (const auto& [name, p] : providers) {
        auto& keys = keys_[name];
        keys.resize(std::max(1, p.key_count));
    }
}

Scheduler::Decision Scheduler::can_submit(const std::string& provider, TimePoint now) const {
    Decision d;
    auto pit = providers_.find(provider);
    auto kit = keys_.find(provider);
    if (pit == providers_.end() || kit == keys_.end()) {
        d.why = Wait::unconfigured(provider);
        d.retry_at = TimePoint::max();
        return d;
    }
    const auto& p = pit->second;
    TimePoint earliest = TimePoint::max();
    Wait why;
    int paused = 0;
    for (int slot = 0; slot < static_cast<int>(kit->second.size()); ++slot) {
        const KeyState& k = kit->second[slot];
        if (k.paused) {
            ++paused;
            why = Wait::provider_paused(provider, k.pause_reason);
            continue;  // a successful credentials check resumes it, not a time
        }
        if (k.in_flight >= p.max_in_flight) {
            if (why.kind == Wait::Kind::none || why.kind == Wait::Kind::provider_paused)
                why = Wait::in_flight(provider, p.max_in_flight);
            continue;  // frees up on a release, not at a time
        }
        TimePoint at = now;
        if (k.hold_until > at) {
            at = k.hold_until;
            why = Wait::provider_hold(provider);
        }
        double rate = effective_rate(p, k);
        TimePoint bucket_at = k.bucket.ready_at(rate, now);
        if (static_cast<int>(k.recent.size()) >= window_limit(p, k))
            bucket_at =
                std::max(bucket_at, k.recent[k.recent.size() - window_limit(p, k)] + kCreateWindow);
        if (bucket_at > at) {
            at = bucket_at;
            why = Wait::rate(provider, int(std::round(rate)));
        }
        if (at <= now) {
            d.slot = slot;
            return d;
        }
        earliest = std::min(earliest, at);
    }
    if (paused == static_cast<int>(kit->second.size()))
        why = Wait::provider_paused(provider, kit->second.front().pause_reason);
    d.why = why;
    d.retry_at = earliest;
    return d;
}

void Scheduler::on_submit(const std::string& provider, int slot, TimePoint now) {
    auto pit = providers_.find(provider);
    KeyState* k = mut(provider, slot);
    if (!k || pit == providers_.end()) return;
    double rate = effective_rate(pit->second, *k);
    k->bucket.refill(rate, now);
    k->bucket.tokens -= 1;
    k->recent.push_back(now);
    while (!k->recent.empty() && k->recent.front() + kCreateWindow <= now)
        k->recent.pop_front();
    ++k->creates_sent;
}

nlohmann::json Scheduler::snapshot() const {
    nlohmann::json out = nlohmann::json::object();
    for (const auto& [name, keys] : keys_) {
        nlohmann::json slots = nlohmann::json::array();
        for (const KeyState& k : keys)
            slots.push_back({{"hold_until", to_ms(k.hold_until)},
                             {"slowdown", k.slowdown},
                             {"paused", k.paused},
                             {"pause_reason", k.pause_reason},
                             {"next_check", to_ms(k.next_check)}});
        out[name] = std::move(slots);
    }
    return {{"schema", "videodrop.limits/2"}, {"providers", std::move(out)}};
}

void Scheduler::restore(const nlohmann::json& snapshot, const std::vector<SentCreate>& creates,
                        TimePoint now) {
    auto recall = [&](const std::string& provider, int slot, TimePoint at) {
        KeyState* k = mut(provider, slot);
        if (k && at + kCreateWindow > now) k->recent.push_back(at);
    };
    for (const auto& c : creates)
        recall(c.provider, c.slot, c.at);
    if (snapshot.is_object() && snapshot.contains("providers")) {
        for (const auto& [name, slots] : snapshot["providers"].items()) {
            auto kit = keys_.find(name);
            if (kit == keys_.end() || !slots.is_array()) continue;  // no longer configured
            for (size_t slot = 0; slot < slots.size() && slot < kit->second.size(); ++slot) {
                const auto& j = slots[slot];
                KeyState& k = kit->second[slot];
                for (const auto& t : j.value("recent", nlohmann::json::array()))
                    if (t.is_number_integer())  // a videodrop.limits/1 snapshot
                        recall(name, static_cast<int>(slot), from_ms(t.get<int64_t>()));
                k.hold_until = from_ms(j.value("hold_until", int64_t{0}));
                k.slowdown = std::clamp(j.value("slowdown", 1.0), 0.125, 1.0);
                k.paused = j.value("paused", false);
                k.pause_reason = j.value("pause_reason", "");
                // Still paused, but the credentials are checked at once: a restart is how a
                // user applies a fixed key, and the check spends nothing.
                k.next_check = std::min(from_ms(j.value("next_check", int64_t{0})), now);
            }
        }
    }
    for (auto& [name, keys] : keys_)
        for (KeyState& k : keys) {
            std::sort(k.recent.begin(), k.recent.end());
            // The bucket starts empty rather than full: the creates just before the restart
            // spent it.
            if (!k.recent.empty()) {
                k.bucket.tokens = 0;
                k.bucket.last = std::max(k.recent.back(), now - kCreateWindow);
            }
        }
}

void Scheduler::on_release(const std::string& provider, int slot) {
    if (auto* k = mut(provider, slot); k && k->in_flight > 0) --k->in_flight;
}

void Scheduler::on_acquire(const std::string& provider, int slot) {
    if (auto* k = mut(provider, slot)) ++k->in_flight;
}

void Scheduler::on_rate_limited(const std::string& provider, int slot, Millis retry_after,
                                TimePoint now) {
    auto* k = mut(provider, slot);
    if (!k) return;
    // A burst that met a full window comes back as several 429s at once: that is one sign to
    // slow down, so the rate halves once per hold, not once per answer.
    if (now >= k->hold_until) k->slowdown = std::max(0.125, k->slowdown / 2);
    k->hold_until = std::max(k->hold_until, now + retry_after);
    // When the hold ends the waiting creates leave one at a time at the slowed rate: the bucket
    // holds one token then and earns nothing during the hold. A full bucket would release them
    // all at once into the window that just refused them.
    k->bucket.tokens = 1.0;
    k->bucket.last = k->hold_until;
}

void Scheduler::on_success(const std::string& provider, int slot) {
    // Recovers gradually: eight clean creates bring a halved rate back to full.
    if (auto* k = mut(provider, slot)) k->slowdown = std::min(1.0, k->slowdown * 1.09);
}

void Scheduler::pause(const std::string& provider, int slot, std::string reason,
                      TimePoint next_check) {
    if (auto* k = mut(provider, slot)) {
        k->paused = true;
        k->pause_reason = std::move(reason);
        k->next_check = next_check;
    }
}

void Scheduler::resume(const std::string& provider, int slot) {
    if (auto* k = mut(provider, slot)) {
        k->paused = false;
        k->pause_reason.clear();
    }
}

KeyState* Scheduler::mut(const std::string& provider, int slot) {
    return const_cast<KeyState*>(std::as_const(*this).key(provider, slot));
}

const KeyState* Scheduler::key(const std::string& provider, int slot) const {
    auto it = keys_.find(provider);
    if (it == keys_.end() || slot < 0 || slot >= static_cast<int>(it->second.size()))
        return nullptr;
    return &it->second[slot];
}

bool Scheduler::paused(const std::string& provider) const {
    auto it = keys_.find(provider);
    if (it == keys_.end()) return false;
    return std::all_of(it->second.begin(), it->second.end(),
                       [](const KeyState& k) { return k.paused; });
}

Millis backoff(int attempt, double jitter, Millis base, Millis cap) {
    attempt = std::clamp(attempt, 0, 30);
    double d = std::min(double(base.count()) * std::pow(2.0, attempt), double(cap.count()));
    d -= d * 0.25 * std::clamp(jitter, 0.0, 1.0);
    return Millis{static_cast<int64_t>(d)};
}

TimePoint next_poll(const PollSettings& s, TimePoint now, TimePoint progress_seen,
                    int progress_at_first_seen, int progress, int polls,
                    std::optional<Millis> poll_after) {
    double interval;
    double cap = double(s.max_interval.count());
    int gained = progress - progress_at_first_seen;
    auto elapsed = (now - progress_seen).count();
    if (gained > 0 && elapsed > 0) {
        // Predict completion from the rate seen so far and look right then. The prediction is
        // trusted as far ahead as the render has been watched: past max_interval once the rate
        // has held that long (a 3-minute render is polled 4 or 5 times, not every max_interval).
        double per_ms = double(gained) / double(elapsed);
        interval = double(100 - progress) / per_ms;
        cap = std::max(cap, double(elapsed));
    } else {
        // Nothing to predict from yet: start at min_interval and double.
        interval = double(s.min_interval.count()) * std::pow(2.0, std::min(polls, 10));
    }
    interval = std::clamp(interval, double(s.min_interval.count()), cap);
    Millis wait{static_cast<int64_t>(interval)};
    if (poll_after && *poll_after > wait) wait = *poll_after;
    return now + wait;
}

}  // namespace vd
