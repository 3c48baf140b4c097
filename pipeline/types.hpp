// Plain value types shared by the pure core and the shell.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace vd {

using Millis = std::chrono::milliseconds;
// Wall-clock time in milliseconds. The core never reads a clock: the shell passes `now` in.
using TimePoint = std::chrono::time_point<std::chrono::system_clock, Millis>;

inline int64_t to_ms(TimePoint t) {
    return t.time_since_epoch().count();
}
inline TimePoint from_ms(int64_t ms) {
    return TimePoint{Millis{ms}};
}

// "2026-11-22T10:00:00.000Z".
std::string iso8601_utc(TimePoint t);

struct Size {
    int width = 0;
    int height = 0;
    friend bool operator==(const Size&, const Size&) = default;
};
std::string to_string(Size s);                          // "1280x720"
std::optional<Size> parse_size(std::string_view text);  // "1280x720" -> {1280, 720}

// One model of a provider's model table ([providers.NAME.models.MODEL]).
struct ModelSpec {
    std::string name;
    std::vector<int> seconds;        // allowed durations
    std::vector<std::string> sizes;  // allowed "WxH"
    double usd_per_second = 0;
    // chat-sse: the model name sent on the wire, a template of {orientation} ("landscape" or
    // "portrait", from the job's size) and {seconds}; empty: "sora-video-{orientation}-{seconds}s".
    std::string chat_model = {};
};

enum class AuthScheme { bearer, bare, basic };
enum class CreateEncoding {
    multipart,
    json,
    auto_
};  // auto_: JSON without an image, multipart with one
enum class DurationField { seconds_string, seconds_int, duration_int };
// How the job's size goes out: "size": "1280x720"; "width" and "height" integers; or
// "aspect_ratio": "16:9" with "resolution": "720p" (the short side).
enum class SizeField { size, width_height, aspect_resolution };
// How a reference image goes out: a multipart file part; a data: URL in a JSON field; or a JSON
// array of frames, [{"type":"image_url","image_url":{"url":DATA},"frame_type":"first_frame"}].
enum class ImageField { file, data_url, frame_images };

// Where each request goes, under base_url. "{id}" stands for the video id, kept exactly as the
// provider returned it and percent-encoded as one path segment (':', '/', '+', '=' included).
// An empty `list` says the provider has none: a create whose answer is lost cannot be looked
// for, so it fails as ambiguous instead of being sent again.
struct ApiPaths {
    std::string create = "/videos";
    std::string get = "/videos/{id}";
    std::string list = "/videos";
    std::string content = "/videos/{id}/content";
    std::string remix = "/videos/{id}/remix";
    std::string remove = "/videos/{id}";
    bool operator==(const ApiPaths&) const = default;
};

// How a provider deviates from the reference protocol. Defaults are the reference protocol; a
// shipped profile (config/providers/NAME.toml) sets several at once.
struct Dialect {
    AuthScheme auth = AuthScheme::bearer;
    CreateEncoding encoding = CreateEncoding::multipart;
    DurationField duration = DurationField::seconds_string;
    SizeField size = SizeField::size;
    ImageField image = ImageField::file;
    std::string image_field = "input_reference";  // the file part's or the JSON field's name
    // Where a finished video's link is in the video object, as a path ("url",
    // "output.videos[0].url", "urls[0]"); empty: the first of the places gateways are known to use.
    std::string result_field;
    // Extra status words, on top of the built-in table (case-insensitive).
    std::vector<std::string> queued_words, running_words, completed_words, failed_words;
    // Whether a result URL found in the video object may be sent the API key (same host only
    // anyway).
    bool url_gets_key = false;
    ApiPaths paths;
    bool operator==(const Dialect&) const = default;
};

// One [providers.NAME] table. The keys themselves never enter the core: requests name a key slot
// and the shell adds the credentials.
struct ProviderSettings {
    std::string name;
    std::string protocol = "openai-videos";  // "openai-videos", "chat-sse", "mock"
    std::string base_url;                    // e.g. "https://api.openai.com/v1"
    int key_count = 1;                       // size of the key pool
    double submits_per_minute = 5;
    int max_in_flight = 8;
    std::map<std::string, ModelSpec> models;
    Dialect dialect;
    // chat-sse: how long one answer stream may stay open, and whether a stream that broke after
    // the request went out is sent again (it may have been billed) instead of failing the job.
    Millis stream_timeout{30 * 60 * 1000};
    bool resubmit_lost_stream = false;
};

struct PollSettings {
    Millis min_interval{2000};
    Millis max_interval{30000};
    Millis job_timeout{45 * 60 * 1000};
    // The longest wait a provider may ask for (Retry-After, openai-poll-after-ms); longer asks
    // are cut to this, and the cut is logged.
    Millis max_provider_wait{10 * 60 * 1000};
};

// Bounds on a download, whatever the server sends.
struct DownloadSettings {
    // A video's bitrate ceiling, far above what providers make (about 2 to 10 Mbit/s): a video
    // body may be seconds x this + 8 MiB; a thumbnail or spritesheet 32 MiB.
    double max_mbit_per_second = 200;
    // A transfer slower than this on average over low_speed_time is cut, and a whole download
    // may take at most low_speed_time + its byte limit at this speed.
    int64_t min_bytes_per_second = 32 * 1024;
    Millis low_speed_time{30000};
};

struct BudgetSettings {
    double usd_per_day = 0;  // 0 = no cap
    double usd_total = 0;
};

enum class VerifyLevel {
    demux,   // open, stream headers, every packet read
    decode,  // and every video and audio packet decoded
};

struct VerifySettings {
    Millis duration_tolerance{500};
    bool require_audio = false;
    VerifyLevel level = VerifyLevel::decode;
    // Fetches of one video, failed transfers and failed verifications alike, before the job
    // fails (its video id kept, so `retry` fetches it again without paying).
    int max_download_attempts = 5;
    // The wait after the first failed fetch; it doubles each time (30 s, 1 min, 2 min, 4 min),
    // well within the hour a provider keeps a finished video.
    Millis download_backoff{30000};
};

// How an ambiguous create (sent, outcome unknown) is resolved.
struct ReconcileSettings {
    int looks = 2;      // complete looks through the provider's list before calling it absent
    int resubmits = 1;  // creates sent again after the looks found nothing; then ambiguous_create
};

// What the core needs to know of the configuration.
struct Settings {
    std::map<std::string, ProviderSettings> providers;
    PollSettings polling;
    BudgetSettings budget;
    VerifySettings verify;
    ReconcileSettings reconcile;
    DownloadSettings download;
    int max_submit_attempts = 8;  // retryable failures of a create before the job fails
};

// A storyboard shot.
struct Shot {
    int seconds = 0;
    std::string prompt;
};

// A validated job request: a manifest with defaults applied, checked against the model table.
struct JobSpec {
    std::string name;  // the manifest's stem
    std::string provider;
    std::string model;
    int seconds = 0;
    Size size;
    std::string prompt;
    std::string image;           // reference image ready to upload (already fitted), empty = none
    std::string image_original;  // file name of the image as given in the manifest
    std::string image_sha256;    // of the original
    std::string image_fit = "cover";
    std::string remix_of;  // provider video id, empty = none
    // A video already generated and paid for by an earlier job of this name (`retry` of a job
    // that failed at download or verify): fetched again, never created.
    std::string refetch_video_id;
    int refetch_key_slot = 0;
    int priority = 0;
    std::vector<std::string> variants;  // "thumbnail", "spritesheet"
    // A storyboard at a provider that makes one shot a generation: the shots, made as child
    // jobs and joined; with `continuity` each shot starts from the last frame of the one before.
    std::vector<Shot> shots = {};
    bool continuity = false;
    nlohmann::json meta = nlohmann::json::object();
    nlohmann::json manifest = nlohmann::json::object();  // as read, with defaults filled in
    std::string manifest_file;                 // the claimed manifest's file name (for failed/)
    std::vector<std::string> companion_files;  // e.g. the image beside a .txt
};

}  // namespace vd
