// The fake provider (product.md section 7): speaks the OpenAI Videos protocol on loopback, renders
// real MP4s, moves jobs through their states on a clock, injects faults, records every request.
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
    int port = 0;                     // 0: pick a free port
    std::vector<std::string> keys;    // accepted keys; empty: any non-empty key
    Millis queue_time{300};           // queued -> in_progress
    Millis gen_time{2000};            // in_progress -> completed
    double rpm = 0;                   // creates per minute per key before 429 (0 = no limit)
    double fail_rate = 0;             // share of requests answered 5xx
    double reset_rate = 0;            // share of requests whose connection is reset, unanswered
    double lost_rate = 0;             // share of creates done but whose answer is lost
    double truncate_rate = 0;         // share of content downloads cut short
    double corrupt_rate = 0;          // share of content downloads with flipped bytes
    Millis slow{0};                   // delay before every answer
    std::string moderation_word;      // prompts containing it fail with moderation_blocked
    std::string dialect = "openai";   // "openai" or "processing-url"
    std::string log_file;             // JSON lines of every request; empty = none
    Millis expire_after{3600 * 1000};  // content expiry after completion
    uint64_t seed = 1;
    std::map<std::string, ModelSpec> models;  // empty: sora-2 and sora-2-pro as documented
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
    std::string path;   // e.g. /v1/videos/video_123/content
    std::string query;  // raw query string
    std::string key_hash;  // sha256 of the key, first 12 hex digits ("" when none)
    nlohmann::json fields = nlohmann::json::object();  // JSON body or form fields
    std::vector<FilePart> files;
    int status = 0;
    std::string video_id;  // created or addressed video, when any
    bool lost = false;     // the answer was dropped on purpose
    int64_t at_ms = 0;     // wall clock
};

class Server {
public:
    explicit Server(Options options);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // Binds and serves on a background thread; returns the port.
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
