// `videodrop retry`: a failed job's files back into the inbox under their original names, the
// manifest last (so the daemon never sees it without its image), the error file removed.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "config/manifest.hpp"
#include "daemon/cli.hpp"
#include "daemon/fsutil.hpp"
#include "daemon/manage.hpp"
#include "daemon/manage_util.hpp"

namespace vd::manage {
namespace {

namespace sfs = std::filesystem;
using nlohmann::json;

struct Move {
    std::string from;  // name in failed/
    std::string to;    // name in the inbox
};

// A plain file name: nothing in an error file may point outside the two folders.
bool plain(const std::string& name) {
    return !name.empty() && name.front() != '.' && name.find('/') == std::string::npos;
}

json read_error(const std::string& path) {
    auto text = fs::read_file(path, 16u << 20);
    if (!text) return json();
    auto j = json::parse(*text, nullptr, false);
    return j.is_object() ? j : json();
}

// What goes back for NAME. The error file's "files" map ({failed name: original name}) is the
// record delivery::move_to_failed keeps: a collision in failed/ renamed cat.json to cat-2.json,
// and the manifest's "image" still says the original name. Without it, the manifest and its
// image are found by name.
std::vector<Move> plan(const std::string& failed, const std::string& name, const json& error) {
    std::vector<Move> moves;
    if (error.contains("files") && error["files"].is_object()) {
        for (const auto& [target, original] : error["files"].items())
            if (original.is_string() && plain(target) && plain(original.get<std::string>()) &&
                exists(failed + "/" + target))
                moves.push_back({target, original.get<std::string>()});
        return moves;
    }
    std::string manifest = find_manifest(failed, name);
    if (manifest.empty()) return moves;
    moves.push_back({manifest, manifest});
    std::vector<std::string> images;
    const json* m = error.contains("manifest") ? &error["manifest"] : nullptr;
    if (m && m->is_object() && m->contains("image") && (*m)["image"].is_string())
        images.push_back((*m)["image"].get<std::string>());
    if (manifest.ends_with(".txt"))
        for (const char* ext : {".png", ".jpg", ".jpeg", ".webp"})
            images.push_back(name + ext);
    for (const auto& image : images)
        if (plain(image) && exists(failed + "/" + image)) moves.push_back({image, image});
    return moves;
}

// Returns cli::kOk, or why NAME could not be retried (the reason is printed): cli::kUsage for a
// name that is no failed job, cli::kFatal when the files could not be moved.
int retry_one(const Config& cfg, const std::string& name) {
    const std::string& failed = cfg.paths.failed;
    const std::string& inbox = cfg.paths.inbox;
    if (!plain(name)) {
        std::fprintf(stderr, "videodrop: \"%s\" is not a job name (see `ls %s`)\n",
                     one_line(name, 60).c_str(), failed.c_str());
        return cli::kUsage;
    }
    const std::string error_path = failed + "/" + name + ".error.json";
    const bool has_error = exists(error_path);
    auto moves = plan(failed, name, has_error ? read_error(error_path) : json());
    if (moves.empty()) {
        if (has_error) {
            std::fprintf(stderr,
                         "videodrop: %s: the files it lists are no longer in %s; nothing to "
                         "retry\n",
                         error_path.c_str(), failed.c_str());
            return cli::kFatal;
        }
        std::fprintf(stderr,
                     "videodrop: no failed job named %s in %s (retry takes the NAME of a "
                     "NAME.error.json there; `videodrop status` lists failed jobs)\n",
                     one_line(name, 60).c_str(), failed.c_str());
        return cli::kUsage;
    }
    for (const auto& m : moves)
        if (exists(inbox + "/" + m.to)) {
            std::fprintf(stderr,
                         "videodrop: %s: skipped, %s/%s already exists (move it away and retry)\n",
                         name.c_str(), inbox.c_str(), m.to.c_str());
            return cli::kFatal;
        }
    // Manifests last: the daemon takes a manifest as soon as it appears.
    std::stable_partition(moves.begin(), moves.end(),
                          [](const Move& m) { return !is_manifest_name(m.to); });

    bool error_removed = false;
    for (const auto& m : moves) {
        if (is_manifest_name(m.to) && !error_removed) {
            // Gone before the manifest returns, so a quick second failure gets NAME again.
            ::unlink(error_path.c_str());
            error_removed = true;
        }
        auto r = move_noreplace(failed + "/" + m.from, inbox + "/" + m.to,
                                inbox + "/." + m.to + ".retry.tmp");
        if (!r) {
            std::fprintf(stderr, "videodrop: %s: %s\n", name.c_str(), r.error().c_str());
            return cli::kFatal;
        }
        std::printf("moved %s/%s -> %s/%s\n", failed.c_str(), m.from.c_str(), inbox.c_str(),
                    m.to.c_str());
    }
    if (!error_removed) ::unlink(error_path.c_str());
    (void)fs::fsync_dir(inbox);
    (void)fs::fsync_dir(failed);
    return cli::kOk;
}

std::vector<std::string> every_failed(const std::string& failed) {
    std::vector<std::string> names;
    std::error_code ec;
    const std::string suffix = ".error.json";
    for (sfs::directory_iterator it(failed, ec), end; !ec && it != end; it.increment(ec)) {
        std::string f = it->path().filename().string();
        if (f.size() > suffix.size() && f.ends_with(suffix) && f.front() != '.')
            names.push_back(f.substr(0, f.size() - suffix.size()));
    }
    std::sort(names.begin(), names.end());
    return names;
}

}  // namespace

int retry(const Config& cfg, const std::vector<std::string>& names, bool all) {
    auto todo = all ? every_failed(cfg.paths.failed) : names;
    if (all && todo.empty()) std::printf("nothing to retry in %s\n", cfg.paths.failed.c_str());
    int rc = cli::kOk;
    for (const auto& name : todo)
        rc = worse(rc, retry_one(cfg, name));
    return rc;
}

}  // namespace vd::manage
