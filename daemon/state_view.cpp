// The state folder read without its lock, for the management commands (status, cancel, retry,
// validate, cost): the layout and formats are the store's (job_store.hpp), read the same way.
// The daemon may be writing meanwhile: records appear by rename, a ledger line may be half
// appended, and whatever does not parse is skipped with a warning on stderr.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>

#include "daemon/finished_index.hpp"
#include "daemon/fsutil.hpp"
#include "daemon/job_store.hpp"

namespace vd::state_view {

namespace sfs = std::filesystem;
using nlohmann::json;

namespace {

// The ids of STATE/jobs/*.json.
std::vector<std::string> record_ids(const std::string& dir) {
    std::vector<std::string> ids;
    std::error_code ec;
    for (sfs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        std::string name = it->path().filename().string();
        if (name.empty() || name.front() == '.' || !name.ends_with(".json")) continue;
        name.resize(name.size() - 5);
        ids.push_back(std::move(name));
    }
    return ids;
}

std::optional<Job> read_record(const std::string& dir, const std::string& id) {
    auto text = fs::read_file(dir + "/" + id + ".json", 16u << 20);
    if (!text) return std::nullopt;  // renamed away or unreadable: the daemon knows better
    auto j = json::parse(*text, nullptr, false);
    try {
        if (j.is_discarded()) throw std::runtime_error("not JSON");
        return j.get<Job>();
    } catch (const std::exception&) {
        std::fprintf(stderr, "videodrop: %s/%s.json is not a job record, skipped\n", dir.c_str(),
                     id.c_str());
    }
    return std::nullopt;
}

}  // namespace

std::vector<Job> jobs(const std::string& state_dir) {
    std::vector<Job> out;
    const std::string dir = state_dir + "/" + JobStore::kJobsDir;
    for (const auto& id : record_ids(dir))
        if (auto job = read_record(dir, id)) out.push_back(std::move(*job));
    return out;
}

Overview overview(const std::string& state_dir, size_t full_finished) {
    const std::string dir = state_dir + "/" + JobStore::kJobsDir;
    const auto index = finished_index::read(state_dir);
    Overview out;
    std::vector<std::pair<std::string, finished_index::Outline>> finished;
    for (auto& id : record_ids(dir)) {
        auto it = index.find(id);
        if (it != index.end())
            finished.emplace_back(std::move(id), it->second);
        else if (auto job = read_record(dir, id))
            out.jobs.push_back(std::move(*job));
    }
    // The newest finished ones are shown: those are read in full.
    size_t full = std::min(full_finished, finished.size());
    std::partial_sort(finished.begin(), finished.begin() + static_cast<std::ptrdiff_t>(full),
                      finished.end(),
                      [](const auto& a, const auto& b) { return a.second.seq > b.second.seq; });
    for (size_t i = 0; i < finished.size(); ++i) {
        std::optional<Job> job;
        if (i < full) job = read_record(dir, finished[i].first);
        if (job)
            out.jobs.push_back(std::move(*job));
        else
            out.finished.push_back(std::move(finished[i].second));
    }
    return out;
}

Ledger ledger(const std::string& state_dir) {
    Ledger out;
    const std::string path = state_dir + "/" + JobStore::kLedgerFile;
    std::ifstream in(path);
    std::string line;
    for (int n = 1; std::getline(in, line); ++n) {
        if (line.empty()) continue;
        auto j = json::parse(line, nullptr, false);
        try {
            if (j.is_discarded() || !j.is_object()) throw std::runtime_error("not JSON");
            out.add(j.get<LedgerEntry>());
        } catch (const std::exception&) {
            std::fprintf(stderr, "videodrop: %s:%d: not a ledger entry, skipped\n", path.c_str(),
                         n);
        }
    }
    return out;
}

std::vector<std::string> claim_ids(const std::string& state_dir) {
    std::vector<std::string> out;
    std::error_code ec;
    for (sfs::directory_iterator it(state_dir + "/" + JobStore::kClaimedDir, ec), end;
         !ec && it != end; it.increment(ec))
        out.push_back(it->path().filename().string());
    return out;
}

}  // namespace vd::state_view
