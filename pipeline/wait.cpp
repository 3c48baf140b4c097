#include "pipeline/wait.hpp"

#include <array>
#include <charconv>

namespace vd {

namespace {

constexpr std::array<std::pair<Wait::Kind, std::string_view>, 11> kKinds{{
    {Wait::Kind::none, "none"},
    {Wait::Kind::rate, "rate"},
    {Wait::Kind::in_flight, "in_flight"},
    {Wait::Kind::provider_hold, "provider_hold"},
    {Wait::Kind::provider_paused, "provider_paused"},
    {Wait::Kind::budget, "budget"},
    {Wait::Kind::retry_create, "retry_create"},
    {Wait::Kind::recreate, "recreate"},
    {Wait::Kind::unconfigured, "unconfigured"},
    {Wait::Kind::shots, "shots"},
    {Wait::Kind::previous_shot, "previous_shot"},
}};

Wait make(Wait::Kind kind, std::string provider, std::string detail, int number) {
    Wait w;
    w.kind = kind;
    w.provider = std::move(provider);
    w.detail = std::move(detail);
    w.number = number;
    return w;
}

}  // namespace

std::string seconds_text(Millis d) {
    char buf[32];
    auto r = std::to_chars(buf, buf + sizeof buf, double(d.count()) / 1000.0,
                           std::chars_format::fixed, 1);
    return std::string(buf, r.ptr) + "s";
}

Wait Wait::rate(std::string provider, int per_minute) {
    return make(Kind::rate, std::move(provider), "", per_minute);
}
Wait Wait::in_flight(std::string provider, int limit) {
    return make(Kind::in_flight, std::move(provider), "", limit);
}
Wait Wait::provider_hold(std::string provider) {
    return make(Kind::provider_hold, std::move(provider), "", 0);
}
Wait Wait::provider_paused(std::string provider, std::string reason) {
    return make(Kind::provider_paused, std::move(provider), std::move(reason), 0);
}
Wait Wait::budget(std::string why) {
    return make(Kind::budget, "", std::move(why), 0);
}
Wait Wait::retry_create(std::string code, Millis delay) {
    return make(Kind::retry_create, "", code + " in " + seconds_text(delay), 0);
}
Wait Wait::recreate(int looks, int attempt, int of) {
    return make(Kind::recreate, "", std::to_string(attempt) + " of " + std::to_string(of), looks);
}
Wait Wait::shots(int done, int of) {
    return make(Kind::shots, "", std::to_string(of), done);
}
Wait Wait::previous_shot(int shot) {
    return make(Kind::previous_shot, "", "", shot);
}
Wait Wait::unconfigured(std::string provider) {
    return make(Kind::unconfigured, std::move(provider), "", 0);
}

std::string_view to_string(Wait::Kind k) {
    for (const auto& [kind, name] : kKinds)
        if (kind == k) return name;
    return "none";
}

std::optional<Wait::Kind> parse_wait_kind(std::string_view s) {
    for (const auto& [kind, name] : kKinds)
        if (name == s) return kind;
    return std::nullopt;
}

std::string describe(const Wait& w) {
    switch (w.kind) {
        case Wait::Kind::none:
            return "";
        case Wait::Kind::rate:
            // Creates leave evenly spaced, so a job may wait with none sent in the last minute.
            return "submits_per_minute (" + std::to_string(w.number) + "): creates leave " +
                   (w.number > 0 ? "one every " + seconds_text(Millis{60'000 / w.number})
                                 : "slowly after a rate limit") +
                   ", this one in turn";
        case Wait::Kind::in_flight:
            return "max_in_flight (" + std::to_string(w.number) + ") reached";
        case Wait::Kind::provider_hold:
            return "provider asked to retry later (Retry-After)";
        case Wait::Kind::provider_paused:
            return "provider " + w.provider + " paused" + (w.detail.empty() ? "" : ": " + w.detail);
        case Wait::Kind::budget:
            return "budget: " + w.detail;
        case Wait::Kind::retry_create:
            return "retrying the create after " + w.detail;
        case Wait::Kind::recreate:
            return "not found in " + std::to_string(w.number) +
                   " looks through the provider's list; creating again (" + w.detail + ")";
        case Wait::Kind::unconfigured:
            return "provider " + w.provider + " is not configured";
        case Wait::Kind::shots:
            return "its shots: " + std::to_string(w.number) + " of " + w.detail + " made";
        case Wait::Kind::previous_shot:
            return "the last frame of shot " + std::to_string(w.number);
    }
    return "";
}

void to_json(nlohmann::json& j, const Wait& w) {
    j = {{"kind", to_string(w.kind)},
         {"provider", w.provider},
         {"detail", w.detail},
         {"number", w.number}};
}

void from_json(const nlohmann::json& j, Wait& w) {
    w.kind = parse_wait_kind(j.value("kind", "none")).value_or(Wait::Kind::none);
    w.provider = j.value("provider", "");
    w.detail = j.value("detail", "");
    w.number = j.value("number", 0);
}

}  // namespace vd
