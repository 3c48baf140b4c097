// The provider protocol as pure request builders and response parsers (openai-videos and its
// dialects, shared/spec/providers.md). Bytes in, values out; no IO.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "pipeline/http.hpp"
#include "pipeline/types.hpp"

namespace vd::protocol {

enum class VideoStatus { queued, in_progress, completed, failed, cancelled, unknown };
std::string_view to_string(VideoStatus s);

// Maps a status word (any case) through the built-in table plus the dialect's extra words.
// Unknown words map to VideoStatus::unknown (the caller treats them as still running).
VideoStatus classify_status(std::string_view word, const Dialect& dialect);

struct ProviderError {
    std::string code;  // "moderation_blocked", "invalid_api_key", ...
    std::string message;
    std::string type;
    std::string param;
    nlohmann::json raw = nlohmann::json::object();  // the error object as sent
};

// A Video object, parsed tolerantly: only id and status are required.
struct Video {
    std::string id;
    std::string status_word;
    VideoStatus status = VideoStatus::unknown;
    std::optional<int> progress;                                  // 0-100
    std::optional<int64_t> created_at, completed_at, expires_at;  // unix seconds
    std::string model, size, prompt, remixed_from;
    std::optional<int> seconds;
    std::string result_url;  // url / video_url / metadata.url / ... when the dialect gives one
    std::optional<ProviderError> error;
    nlohmann::json raw = nlohmann::json::object();  // unknown fields kept
};

struct VideoList {
    std::vector<Video> data;
    bool has_more = false;
    std::string last_id;
};

// Requests. `slot` is the key slot of the pool to authenticate with.
HttpRequest build_create(const ProviderSettings& p, const JobSpec& job, int slot);
HttpRequest build_remix(const ProviderSettings& p, const JobSpec& job, int slot);
HttpRequest build_retrieve(const ProviderSettings& p, const std::string& video_id, int slot);
HttpRequest build_list(const ProviderSettings& p, int limit, const std::string& after, int slot);
HttpRequest build_content(const ProviderSettings& p, const std::string& video_id,
                          const std::string& variant, int slot);
HttpRequest build_delete(const ProviderSettings& p, const std::string& video_id, int slot);
HttpRequest build_models(const ProviderSettings& p, int slot);

// Percent-encodes an opaque id as one path segment.
std::string encode_path_segment(std::string_view id);

// Responses. A body that is not JSON (HTML with 200 from a wrong path, say) is an error naming
// what arrived.
struct ParseError {
    std::string message;
};
tl::expected<Video, ParseError> parse_video(const HttpResult& r, const Dialect& d);
tl::expected<VideoList, ParseError> parse_list(const HttpResult& r, const Dialect& d);
// Both error shapes: {"error":{...}} and new-api's top-level {"code","message","data"}.
std::optional<ProviderError> parse_error(const HttpResult& r);

// How the core should react to a response or transport failure.
enum class ErrorClass {
    ok,
    retryable,       // 408, 409, 429, 5xx, transport not_sent: back off and try again
    ambiguous,       // a create whose outcome is unknown: reconcile before any resend
    terminal,        // 400, 404, moderation: the job fails with the provider's words
    provider_fatal,  // 401, 403, insufficient_quota: pause the provider (or key)
};
struct Classified {
    ErrorClass cls = ErrorClass::ok;
    std::optional<Millis> retry_after;  // retry-after-ms, then Retry-After (seconds or HTTP date)
    std::optional<ProviderError> error;
    std::string code;  // a machine code for error files: provider code or "http_503", ...
};
// `is_create`: transport after_send and 5xx on a create are ambiguous, not retryable.
// `now` resolves an HTTP-date Retry-After.
Classified classify(const HttpResult& r, bool is_create, TimePoint now);

// Matching a listed video against a job whose create outcome is unknown (reconciliation).
bool matches_job(const Video& v, const JobSpec& job, TimePoint sent_at, Millis window);

}  // namespace vd::protocol
