// The fake provider: speaks the OpenAI Videos protocol on loopback, renders
// real MP4s, moves jobs through their states on a clock, injects faults, records every request.
//
// Where the reference protocol is silent, the mock answers: content before completion 409
// `video_not_ready` (try later), content of a failed video 400 `video_failed`, content after
// expiry 404 `video_expired`, delete before completion 400 `video_not_finished`, remix of an
// unfinished video 400 `video_not_completed`, list with an unknown `after` 400 `invalid_value`.
// Moderated prompts fail halfway through generation. Unknown request fields are 400
// `unknown_parameter`. JSON `input_reference` is taken as a base64 `data:` URL only.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pipeline/types.hpp"

namespace vd::mock {

struct Options {
    std::string host = "127.0.0.1";
    int port = 0;                   // 0: pick a free port
    std::vector<std::string> keys;  // accepted keys; empty: any non-empty key
    Millis queue_time{300};         // queued -> in_progress
    Millis gen_time{2000};          // in_progress -> completed
    double rpm = 0;                 // creates per minute per key before 429 (0 = no limit)
    // The window `rpm` counts over. A shorter one scales the limit down with it (rpm creates per
    // rate_window), so tests can run a 429 storm in seconds instead of minutes.
    Millis rate_window{60000};
    double fail_rate = 0;  // share of requests answered 500/502/503 with an error body
    // Share of requests whose connection is reset (RST) without a byte of answer; nothing is
    // created. curl: (56) "Connection reset by peer".
    double reset_rate = 0;
    // Share of creates (and remixes) that make the video, then close the connection (FIN) without
    // a byte of answer. curl: (52) "Empty reply from server".
    double lost_rate = 0;
    // The same, but only for creates that arrive on a reused keep-alive connection: what an
    // idle-connection cut at a gateway does. A client that resends such a request by itself
    // (libcurl's "Connection died, retrying a fresh connect") makes a second, billed video.
    double lost_on_reuse_rate = 0;
    // Share of content downloads that stop at half the body under the full Content-Length.
    // curl: (18) "transfer closed with N bytes remaining to read".
    double truncate_rate = 0;
    // Share of content downloads with bytes wrecked inside the media data (the mdat box): the
    // boxes stay intact, so only a decode notices.
    double corrupt_rate = 0;
    Millis slow{0};               // delay before every answer
    std::string moderation_word;  // prompts containing it fail with moderation_blocked
    // As a shipped profile's servers speak (mock/dialect.hpp): "openai", "new-api" (or
    // "processing-url"), "generations-jobs", "json-content", "openrouter", "litellm".
    std::string dialect = "openai";
    // How long a signed storage link (json-content, openrouter) works after the read that
    // gave it; later it answers 403 like an expired presigned URL.
    Millis link_ttl{10 * 60 * 1000};
    std::string log_file;    // JSON lines of every request; empty = none
    std::string video_file;  // serve this MP4 as every video's content (benchmarks); empty = render
    Millis expire_after{3600 * 1000};  // content expiry after completion
    uint64_t seed = 1;
    std::map<std::string, ModelSpec> models;  // empty: sora-2 and sora-2-pro as documented
    int threads = 32;             // worker threads; each keep-alive connection holds one
    size_t max_records = 100000;  // requests() keeps the newest this many
};

struct FilePart {
    std::string name;  // form field
    std::string sha256;
    int width = 0, height = 0;  // pixel size when it is an image the mock can read
    std::string kind;           // "png", "jpeg", "webp", ""
    int64_t bytes = 0;
};

struct RecordedRequest {
    std::string method;
    std::string path;      // e.g. /v1/videos/video_123/content
    std::string query;     // raw query string
    std::string key_hash;  // sha256 of the key, first 12 hex digits ("" when none)
    nlohmann::json fields = nlohmann::json::object();  // JSON body or form fields
    std::vector<FilePart> files;
    int status = 0;
    std::string video_id;        // created or addressed video, when any
    bool lost = false;           // the answer was dropped on purpose
    int64_t at_ms = 0;           // wall clock
    int64_t at_us = 0;           // the same instant in microseconds (latency measurements)
    std::string request_id;      // the x-request-id it was answered with
    int64_t retry_after_ms = 0;  // the wait a 429 asked for
    // The fault injected into this answer: "reset", "5xx", "lost", "lost_on_reuse",
    // "truncated", "corrupted", "rate_limited"; "" for none.
    std::string fault;
};

class Server {
  public:
    explicit Server(Options options);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // Binds and serves on a background thread; returns the port, or -1 when it cannot bind.
    int start();
    void stop();
    int port() const;
    std::string base_url() const;  // "http://127.0.0.1:PORT/v1"

    // Change faults or timings while running.
    void update(const std::function<void(Options&)>& change);
    std::vector<RecordedRequest> requests() const;
    // Videos created so far (each a billed generation at a real provider).
    size_t videos_created() const;

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// `videodrop mock-server`: serves in the foreground until SIGINT or SIGTERM.
int run_foreground(const Options& options);

}  // namespace vd::mock
