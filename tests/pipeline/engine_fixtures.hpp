// Small builders for engine tests: settings, specs, provider answers, command filters.
#pragma once

#include <string>
#include <vector>

#include "pipeline/engine.hpp"

namespace vd {

inline const TimePoint T0 = from_ms(1'800'000'000'000);

inline Settings settings(double rpm = 60, int in_flight = 8) {
    Settings s;
    ProviderSettings p;
    p.name = "p";
    p.base_url = "http://p.test/v1";
    p.submits_per_minute = rpm;
    p.max_in_flight = in_flight;
    p.models["sora-2"] = ModelSpec{"sora-2", {4, 8, 12}, {"1280x720", "720x1280"}, 0.10};
    s.providers["p"] = p;
    return s;
}

inline JobSpec spec(const std::string& name, int priority = 0) {
    JobSpec j;
    j.name = name;
    j.provider = "p";
    j.model = "sora-2";
    j.seconds = 8;
    j.size = {1280, 720};
    j.prompt = "prompt of " + name;
    j.priority = priority;
    return j;
}

inline HttpResult json(int status, const nlohmann::json& body,
                       std::vector<std::pair<std::string, std::string>> headers = {}) {
    HttpResult r;
    r.status = status;
    r.content_type = "application/json";
    r.body = body.dump();
    r.headers = std::move(headers);
    r.headers.emplace_back("x-request-id", "req_1");
    return r;
}

inline nlohmann::json video(const std::string& id, const std::string& status, int progress,
                            const JobSpec& s, TimePoint created) {
    return {{"id", id},
            {"object", "video"},
            {"status", status},
            {"progress", progress},
            {"model", s.model},
            {"size", to_string(s.size)},
            {"seconds", std::to_string(s.seconds)},
            {"prompt", s.prompt},
            {"created_at", to_ms(created) / 1000}};
}

template <class T>
std::vector<T> all(const Commands& cs) {
    std::vector<T> out;
    for (const auto& c : cs)
        if (auto* x = std::get_if<T>(&c)) out.push_back(*x);
    return out;
}

template <class T>
int index_of(const Commands& cs, int from = 0) {
    for (int i = from; i < static_cast<int>(cs.size()); ++i)
        if (std::holds_alternative<T>(cs[i])) return i;
    return -1;
}

inline std::vector<SendHttp> sends(const Commands& cs, Purpose p) {
    std::vector<SendHttp> out;
    for (const auto& s : all<SendHttp>(cs))
        if (s.purpose == p) out.push_back(s);
    return out;
}

// Adds a job and lets the first tick submit it.
inline Commands add_and_submit(Engine& e, const std::string& name, TimePoint now = T0) {
    e.add(name, spec(name), now);
    return e.tick(now);
}

}  // namespace vd
