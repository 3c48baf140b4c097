// The shell's ports: the small interfaces through which the executor (daemon/executor.hpp)
// reaches the world. The daemon plugs in the real ones (daemon/real_ports.hpp: libcurl on libuv,
// the state folder, the outbox and failed/, FFmpeg, the system clock); the deterministic
// simulation plugs in fakes, so both run the same executor.
//
// Every call is one effect. Answers come back later through the callbacks, never from inside
// the call, so the executor's state is settled before any answer is handled.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <tl/expected.hpp>

#include "pipeline/engine.hpp"

namespace vd::ports {

class Clock {
  public:
    virtual ~Clock() = default;
    virtual TimePoint now() const = 0;
};

class Http {
  public:
    using Done = std::function<void(HttpResult)>;
    using DownloadDone = std::function<void(HttpResult, int64_t bytes)>;
    using Piece = std::function<void(std::string_view)>;
    virtual ~Http() = default;
    // `piece` (for a streamed request) sees the body as it arrives; it must not send anything.
    virtual void send(const HttpRequest& req, Done done, Piece piece) = 0;
    // Streams the body into `path`, within the command's bounds.
    virtual void download(const Download& d, const std::string& path, DownloadDone done) = 0;
};

class Media {
  public:
    virtual ~Media() = default;
    virtual void probe(const std::string& path, bool decode,
                       std::function<void(MediaInfo)> done) = 0;
    // Storyboards: `done` gets an error in words, empty on success.
    using Done = std::function<void(std::string error)>;
    virtual void join(std::vector<std::string> shots, std::string dest, Done done) = 0;
    virtual void last_frame(std::string video, Size size, std::string dest_png, Done done) = 0;
};

// The state folder: records, the spend ledger, the limits, and the claims of inputs.
class State {
  public:
    virtual ~State() = default;
    virtual tl::expected<void, std::string> save(const Job& job) = 0;
    virtual tl::expected<void, std::string> append_ledger(const LedgerEntry& e) = 0;
    virtual tl::expected<void, std::string> save_limits(const nlohmann::json& limits) = 0;
    virtual bool has_claim(const std::string& id) const = 0;
    virtual tl::expected<void, std::string> remove_claim(const std::string& id) = 0;
};

// outbox/ and failed/. Publishing and failing are idempotent: done again after a crash, they
// find their work done and say so.
class Files {
  public:
    virtual ~Files() = default;
    // The folders, for messages.
    virtual std::string outbox() const = 0;
    virtual std::string failed() const = 0;
    // Where a download of the job's variant goes (outbox/.tmp).
    virtual std::string download_path(const std::string& job, const std::string& variant) = 0;
    // A free stem for a delivery named `name` (cat, cat-2, ...).
    virtual std::string choose_output_name(const std::string& name) = 0;
    // Where a storyboard's kept shot (index from 0) and its files are: "mp4" the shot, "png" the
    // frame it starts from.
    virtual std::string shot_path(const std::string& storyboard, int shot,
                                  const std::string& ext) = 0;
    // A verified shot's download kept for the join (idempotent).
    virtual tl::expected<void, std::string> keep_shot(const Job& shot) = 0;
    // Video, variants and sidecar into the outbox as job.output_name; returns the stem. A
    // storyboard's sidecar lists `shots`, and its kept shots go once it is published.
    virtual tl::expected<std::string, std::string> publish(const Job& job,
                                                           const std::vector<Job>& shots,
                                                           TimePoint now) = 0;
    // The job's inputs into failed/ with its error file, its downloads and claim gone; returns
    // the error file's stem, "" when that was done before.
    virtual tl::expected<std::string, std::string> fail(const Job& job) = 0;
};

}  // namespace vd::ports
