#include "daemon/real_ports.hpp"

#include <chrono>

#include "daemon/delivery.hpp"
#include "daemon/fail_job.hpp"
#include "daemon/fsutil.hpp"
#include "daemon/media_join.hpp"
#include "daemon/sidecar.hpp"

namespace vd {

TimePoint SystemClock::now() const {
    return std::chrono::time_point_cast<Millis>(std::chrono::system_clock::now());
}

void CurlHttp::send(const HttpRequest& req, Done done, Piece piece) {
    client_.send(req, std::move(done), std::move(piece));
}

void CurlHttp::download(const Download& d, const std::string& path, DownloadDone done) {
    DownloadLimits limits{d.max_bytes, d.min_bytes_per_second, d.low_speed_time, d.deadline};
    client_.download(d.request, path, std::move(done), limits);
}

void ProbeMedia::probe(const std::string& path, bool decode, std::function<void(MediaInfo)> done) {
    prober_.probe(path, decode, std::move(done));
}

void ProbeMedia::join(std::vector<std::string> shots, std::string dest, Done done) {
    prober_.run(
        [shots = std::move(shots), dest = std::move(dest)] {
            auto r = join_mp4(shots, dest);
            return r ? std::string() : r.error();
        },
        std::move(done));
}

void ProbeMedia::last_frame(std::string video, Size size, std::string dest_png, Done done) {
    prober_.run(
        [video = std::move(video), size, dest = std::move(dest_png)] {
            auto r = last_frame_png(video, size, dest);
            return r ? std::string() : r.error();
        },
        std::move(done));
}

tl::expected<void, std::string> StoreState::save(const Job& job) {
    return store_.save(job);
}

tl::expected<void, std::string> StoreState::append_ledger(const LedgerEntry& e) {
    return store_.append_ledger(e);
}

tl::expected<void, std::string> StoreState::save_limits(const nlohmann::json& limits) {
    return store_.save_limits(limits);
}

bool StoreState::has_claim(const std::string& id) const {
    return fs::exists(store_.claimed_dir(id));
}

tl::expected<void, std::string> StoreState::remove_claim(const std::string& id) {
    return store_.remove_claim(id);
}

std::string FolderFiles::download_path(const std::string& job, const std::string& variant) {
    return delivery::tmp_path(paths_, job, variant);
}

std::string FolderFiles::choose_output_name(const std::string& name) {
    return delivery::choose_output_name(paths_, name);
}

std::string FolderFiles::shot_path(const std::string& storyboard, int shot,
                                   const std::string& ext) {
    return delivery::shot_path(paths_, storyboard, shot, ext);
}

tl::expected<void, std::string> FolderFiles::keep_shot(const Job& shot) {
    return delivery::keep_shot(paths_, shot.id, shot_path(shot.parent, shot.shot, "mp4"));
}

tl::expected<std::string, std::string> FolderFiles::publish(const Job& job,
                                                            const std::vector<Job>& shots,
                                                            TimePoint now) {
    auto stem =
        delivery::publish(paths_, job, make_sidecar(job, job.output_name, now, VD_VERSION, shots));
    if (stem && !job.children.empty()) delivery::discard_shots(paths_, job);
    return stem;
}

tl::expected<std::string, std::string> FolderFiles::fail(const Job& job) {
    return move_failed_job(paths_, store_, job);
}

}  // namespace vd
