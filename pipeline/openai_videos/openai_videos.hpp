// The reference protocol, `protocol = "openai-videos"` (POST /v1/videos and its gateways'
// dialects, shared/spec/providers.md): pure request builders and answer parsers, bytes in,
// values out. The files beside this one split it by concern: requests, parsing, status words,
// classification, HTTP dates, and matching a listed video to a job.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pipeline/protocol.hpp"

namespace vd::openai_videos {

using protocol::Classified;
using protocol::ErrorClass;
using protocol::ParseError;
using protocol::ProviderError;
using protocol::Video;
using protocol::VideoList;
using protocol::VideoStatus;

// The protocol as the engine sees it (registered in pipeline/protocols.cpp).
const protocol::Protocol& protocol();

// Maps a status word (any case) through the built-in table plus the dialect's extra words.
// Unknown words map to VideoStatus::unknown (the caller treats them as still running).
VideoStatus classify_status(std::string_view word, const Dialect& dialect);

// Requests. `slot` is the key slot of the pool to authenticate with.
HttpRequest build_create(const ProviderSettings& p, const JobSpec& job, int slot);
HttpRequest build_remix(const ProviderSettings& p, const JobSpec& job, int slot);
HttpRequest build_retrieve(const ProviderSettings& p, const std::string& video_id, int slot);
HttpRequest build_list(const ProviderSettings& p, int limit, const std::string& after, int slot);
HttpRequest build_content(const ProviderSettings& p, const std::string& video_id,
                          const std::string& variant, int slot);
HttpRequest build_delete(const ProviderSettings& p, const std::string& video_id, int slot);
HttpRequest build_models(const ProviderSettings& p, int slot);

// One step of a field path: an object key, or an array index.
struct PathStep {
    std::string key;
    size_t index = 0;
    bool is_index = false;
};
// "output.videos[0].url" as steps; nullopt when it is not such a path (the config's check).
std::optional<std::vector<PathStep>> parse_field_path(std::string_view path);

// Percent-encodes an opaque id as one path segment.
std::string encode_path_segment(std::string_view id);

// Responses. A body that is not JSON (HTML with 200 from a wrong path, say) is an error naming
// what arrived.
tl::expected<Video, ParseError> parse_video(const HttpResult& r, const Dialect& d);
tl::expected<VideoList, ParseError> parse_list(const HttpResult& r, const Dialect& d);
// A content endpoint's JSON answer with a link instead of the bytes ({"url": ...}, or any place
// a video's link may be); "" when it has none.
std::string parse_content_link(const HttpResult& r, const Dialect& d);
// Both error shapes: {"error":{...}} and new-api's top-level {"code","message","data"}.
std::optional<ProviderError> parse_error(const HttpResult& r);

// `is_create`: transport after_send and 5xx on a create are ambiguous, not retryable.
// `now` resolves an HTTP-date Retry-After.
Classified classify(const HttpResult& r, bool is_create, TimePoint now);

// retry-after-ms, then Retry-After (seconds or an HTTP date, relative to `now`).
std::optional<Millis> retry_after(const HttpResult& r, TimePoint now);
// IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") as a wait from `now` (0 when past).
std::optional<Millis> parse_http_date(std::string_view text, TimePoint now);

// Matching a listed video against a job whose create outcome is unknown (reconciliation).
bool matches_job(const Video& v, const JobSpec& job, TimePoint sent_at, Millis window);

}  // namespace vd::openai_videos
