// The state folder's smaller files: the scheduler's limits, refetch notes left by `retry`, and
// claims returned to the inbox after a crash. The layout is described in job_store.hpp.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "config/manifest.hpp"
#include "daemon/fsutil.hpp"
#include "daemon/job_store.hpp"

namespace vd {
namespace {

constexpr size_t kMaxLimitsBytes = 4 * 1024 * 1024;

bool present(const std::string& path) {
    struct stat st;
    return ::lstat(path.c_str(), &st) == 0;
}

}  // namespace

tl::expected<void, std::string> JobStore::save_limits(const nlohmann::json& limits) {
    return fs::write_atomic(dir_ + "/limits.json", limits.dump() + "\n");
}

nlohmann::json JobStore::load_limits(std::string& problem) const {
    const std::string path = dir_ + "/limits.json";
    if (!present(path)) return nullptr;
    auto text = fs::read_file(path, kMaxLimitsBytes);
    if (!text) {
        problem = text.error();
        return nullptr;
    }
    try {
        return nlohmann::json::parse(*text);
    } catch (const std::exception& e) {
        problem = path + " is unreadable (" + e.what() + "); limits start afresh";
        return nullptr;
    }
}

tl::expected<std::vector<std::string>, std::string> JobStore::unclaim(
    const std::string& id, const std::string& inbox_dir, const std::vector<std::string>& drop) {
    const std::string dir = claimed_dir(id);
    std::vector<std::string> companions, manifests;
    std::error_code ec;
    for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        std::string name = it->path().filename();
        if (name.starts_with('.')) continue;  // work files (the fitted image)
        (is_manifest_name(name) ? manifests : companions).push_back(name);
    }
    if (ec) return tl::unexpected("cannot read " + dir + ": " + ec.message());
    std::vector<std::string> moved;
    // Manifests last: a manifest back in the inbox finds its image there.
    for (const auto* group : {&companions, &manifests})
        for (const auto& name : *group) {
            std::string from = dir + "/" + name, to = inbox_dir + "/" + name;
            // A copy of an image that lives elsewhere in the inbox, or a name that was dropped
            // again meanwhile (the newer file wins): the claimed one goes.
            bool copy = std::find(drop.begin(), drop.end(), name) != drop.end();
            if (copy || present(to)) {
                ::unlink(from.c_str());
                continue;
            }
            if (::rename(from.c_str(), to.c_str()) != 0)
                return tl::unexpected("cannot move " + from + " back to " + inbox_dir + ": " +
                                      std::strerror(errno));
            moved.push_back(name);
        }
    if (auto r = fs::fsync_dir(inbox_dir); !r) return tl::unexpected(r.error());
    if (auto r = remove_claim(id); !r) return tl::unexpected(r.error());
    return moved;
}

}  // namespace vd
