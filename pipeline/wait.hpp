// Why a job that may not submit yet is waiting: a kind the code decides on, with the particulars
// kept as data and turned into words only where a person reads them (status, logs).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "pipeline/types.hpp"

namespace vd {

struct Wait {
    enum class Kind {
        none,
        rate,             // submits_per_minute of every usable key spent for this minute
        in_flight,        // max_in_flight reached on every usable key
        provider_hold,    // the provider asked for a pause (Retry-After on a 429 or 503)
        provider_paused,  // every key's credentials were refused; checked again now and then
        budget,           // the next create would cross a cap of [budget]
        retry_create,     // a create was refused for now; it is sent again after a backoff
        recreate,         // a lost create was not found in the provider's list; creating again
        unconfigured,     // the provider is not (or no longer) in the configuration
        shots,            // a storyboard waits for its shots (number: how many are done)
        previous_shot,    // a shot waits for the last frame of the shot before it
    };
    Kind kind = Kind::none;
    std::string provider;  // whose limit, for the provider's kinds
    std::string detail;    // the particulars: a limit, a reason, a cap and the spend
    int number = 0;        // the limit reached, the attempt, ...

    static Wait rate(std::string provider, int per_minute);
    static Wait in_flight(std::string provider, int limit);
    static Wait provider_hold(std::string provider);
    static Wait provider_paused(std::string provider, std::string reason);
    static Wait budget(std::string why);
    static Wait retry_create(std::string code, Millis delay);
    static Wait recreate(int looks, int attempt, int of);
    static Wait unconfigured(std::string provider);
    static Wait shots(int done, int of);
    static Wait previous_shot(int shot);  // 1-based, as people count

    bool operator==(const Wait&) const = default;
};

// A duration for people: "30.0s".
std::string seconds_text(Millis d);

std::string_view to_string(Wait::Kind k);
std::optional<Wait::Kind> parse_wait_kind(std::string_view s);
// The words for a person: "submits_per_minute (5) reached", "budget: $0.40 would cross ...".
std::string describe(const Wait& w);

void to_json(nlohmann::json& j, const Wait& w);
void from_json(const nlohmann::json& j, Wait& w);

}  // namespace vd
