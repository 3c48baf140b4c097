#include "mock/recorder.hpp"

namespace vd::mock {

nlohmann::json to_json(const RecordedRequest& r) {
    auto files = nlohmann::json::array();
    for (const auto& f : r.files)
        files.push_back({{"name", f.name},
                         {"sha256", f.sha256},
                         {"kind", f.kind},
                         {"width", f.width},
                         {"height", f.height},
                         {"bytes", f.bytes}});
    return {{"at_ms", r.at_ms},       {"at_us", r.at_us},       {"request_id", r.request_id},
            {"method", r.method},     {"path", r.path},         {"query", r.query},
            {"key_hash", r.key_hash}, {"fields", r.fields},     {"files", files},
            {"status", r.status},     {"video_id", r.video_id}, {"lost", r.lost},
            {"fault", r.fault}};
}

Recorder::~Recorder() {
    if (file_) std::fclose(file_);
}

bool Recorder::open(const std::string& path) {
    std::lock_guard lock(mu_);
    if (path == path_) return path.empty() || file_;
    if (file_) std::fclose(file_);
    file_ = nullptr;
    path_ = path;
    if (path.empty()) return true;
    file_ = std::fopen(path.c_str(), "a");
    return file_ != nullptr;
}

void Recorder::add(RecordedRequest r) {
    std::string line;
    std::lock_guard lock(mu_);
    if (file_) {
        line = to_json(r).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
        std::fwrite(line.data(), 1, line.size(), file_);
        std::fflush(file_);
    }
    records_.push_back(std::move(r));
    while (records_.size() > limit_)
        records_.pop_front();
}

std::vector<RecordedRequest> Recorder::all() const {
    std::lock_guard lock(mu_);
    return {records_.begin(), records_.end()};
}

}  // namespace vd::mock
