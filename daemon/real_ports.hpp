// The real ports (daemon/ports.hpp): the system clock, libcurl on libuv, FFmpeg on the
// threadpool, the state folder, and the outbox and failed/ folders.
#pragma once

#include "config/config.hpp"
#include "daemon/http_client.hpp"
#include "daemon/job_store.hpp"
#include "daemon/media_probe.hpp"
#include "daemon/ports.hpp"

namespace vd {

class SystemClock final : public ports::Clock {
  public:
    TimePoint now() const override;
};

class CurlHttp final : public ports::Http {
  public:
    explicit CurlHttp(HttpClient& client) : client_(client) {}
    void send(const HttpRequest& req, Done done, Piece piece) override;
    void download(const Download& d, const std::string& path, DownloadDone done) override;

  private:
    HttpClient& client_;
};

class ProbeMedia final : public ports::Media {
  public:
    explicit ProbeMedia(MediaProber& prober) : prober_(prober) {}
    void probe(const std::string& path, bool decode, std::function<void(MediaInfo)> done) override;
    void join(std::vector<std::string> shots, std::string dest, Done done) override;
    void last_frame(std::string video, Size size, std::string dest_png, Done done) override;

  private:
    MediaProber& prober_;
};

class StoreState final : public ports::State {
  public:
    explicit StoreState(JobStore& store) : store_(store) {}
    tl::expected<void, std::string> save(const Job& job) override;
    tl::expected<void, std::string> append_ledger(const LedgerEntry& e) override;
    tl::expected<void, std::string> save_limits(const nlohmann::json& limits) override;
    bool has_claim(const std::string& id) const override;
    tl::expected<void, std::string> remove_claim(const std::string& id) override;

  private:
    JobStore& store_;
};

class FolderFiles final : public ports::Files {
  public:
    FolderFiles(const Paths& paths, JobStore& store) : paths_(paths), store_(store) {}
    std::string outbox() const override { return paths_.outbox; }
    std::string failed() const override { return paths_.failed; }
    std::string download_path(const std::string& job, const std::string& variant) override;
    std::string choose_output_name(const std::string& name) override;
    std::string shot_path(const std::string& storyboard, int shot, const std::string& ext) override;
    tl::expected<void, std::string> keep_shot(const Job& shot) override;
    tl::expected<std::string, std::string> publish(const Job& job, const std::vector<Job>& shots,
                                                   TimePoint now) override;
    tl::expected<std::string, std::string> fail(const Job& job) override;

  private:
    const Paths& paths_;
    JobStore& store_;
};

}  // namespace vd
