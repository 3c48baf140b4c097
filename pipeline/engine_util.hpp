// Small helpers shared by the engine's files (engine*.cpp): wording and error records.
#pragma once

#include <algorithm>
#include <charconv>
#include <string>
#include <vector>

#include "pipeline/engine.hpp"

namespace vd::engine_detail {

// Whether a create ever left for this job (it may have been billed).
inline bool is_submitted(const Job& job) {
    return job.first_submit != TimePoint{};
}

inline Log log(Log::Level level, std::string text) {
    return Log{level, std::move(text), {}, {}, {}, {}};
}

// scheme://host:port of a URL ("" when it has none).
inline std::string origin(const std::string& url) {
    auto scheme = url.find("://");
    if (scheme == std::string::npos) return "";
    return url.substr(0, url.find('/', scheme + 3));
}

inline bool contains(const std::vector<std::string>& v, const std::string& s) {
    return std::find(v.begin(), v.end(), s) != v.end();
}

inline std::string check_target(const std::string& provider, int slot) {
    return "@" + provider + "#" + std::to_string(slot);
}

// The error file's fields from a classified response.
inline JobError error_from(const std::string& stage, const protocol::Classified& c,
                           const HttpResult& r) {
    JobError e;
    e.stage = stage;
    e.code = c.code;
    e.http_status = r.status;
    e.request_id = r.request_id();
    e.retryable = c.cls == protocol::ErrorClass::retryable;
    if (c.error) {
        e.message = c.error->message;
        e.provider_error = c.error->raw;
    } else if (r.transport != TransportError::none) {
        e.message = r.transport_message;
    } else {
        e.message = "HTTP " + std::to_string(r.status);
    }
    if (e.message.empty()) e.message = "HTTP " + std::to_string(r.status);
    return e;
}

// What the probe of a job's video must find.
inline Expectation expectation(const JobSpec& spec, const VerifySettings& v) {
    Expectation e;
    e.size = spec.size;
    e.seconds = spec.seconds;
    e.duration_tolerance = v.duration_tolerance;
    e.require_audio = v.require_audio;
    return e;
}

inline std::string hint_for(const std::string& code) {
    if (code == "moderation_blocked" || code == "sentinel_block")
        return "the provider's moderation refused the prompt or image; change it, then "
               "`videodrop retry NAME`";
    if (code == "model_not_found")
        return "the provider does not offer this model; check [providers.*.models] and the "
               "manifest";
    if (code == "timeout")
        return "the provider took longer than polling.job_timeout; raise it or `videodrop retry "
               "NAME`";
    if (code == "expired")
        return "the provider's download link expired; `videodrop retry NAME` generates it again";
    if (code == "ambiguous_create")
        return "the provider may have created (and billed) the video; check its dashboard before "
               "`videodrop retry NAME`";
    return "see the message; after fixing the cause, `videodrop retry NAME` submits it again";
}

}  // namespace vd::engine_detail
