// The state folder read without its lock, for the management commands (status, cancel, retry,
// validate, cost): the layout and formats are the store's (job_store.hpp), read the same way.
// The daemon may be writing meanwhile: records appear by rename, a ledger line may be half
// appended, and whatever does not parse is skipped with a warning on stderr.
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "daemon/fsutil.hpp"
#include "daemon/job_store.hpp"

namespace vd::state_view {

namespace sfs = std::filesystem;
using nlohmann::json;

std::vector<Job> jobs(const std::string& state_dir) {
    std::vector<Job> out;
    std::error_code ec;
    const std::string dir = state_dir + "/" + JobStore::kJobsDir;
    for (sfs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        const std::string name = it->path().filename().string();
        if (name.empty() || name.front() == '.' || !name.ends_with(".json")) continue;
        auto text = fs::read_file(it->path().string(), 16u << 20);
        if (!text) continue;  // renamed away or unreadable: the daemon knows better
        auto j = json::parse(*text, nullptr, false);
        try {
            if (j.is_discarded()) throw std::runtime_error("not JSON");
            out.push_back(j.get<Job>());
        } catch (const std::exception&) {
            std::fprintf(stderr, "videodrop: %s/%s is not a job record, skipped\n", dir.c_str(),
                         name.c_str());
        }
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
