// `videodrop retry`: a failed job's files back into the inbox under their original names, the
// manifest last (so the daemon never sees it without its image), and only then the error file
// removed. A move that fails puts back what was moved and keeps the error file; a rerun after an
// interrupted retry moves what is left, or removes the error file when nothing is.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>

#include "config/manifest.hpp"
#include "daemon/cli.hpp"
#include "daemon/fs_move.hpp"
#include "daemon/fsutil.hpp"
#include "daemon/job_store.hpp"
#include "daemon/manage.hpp"
#include "daemon/manage_util.hpp"
#include "daemon/refetch.hpp"

namespace vd::manage {
namespace {

namespace sfs = std::filesystem;
using fs::exists;
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

// A job that failed after its video was made (at download or verify) names the video.
std::optional<RefetchNote> refetch_note_of(const std::string& name, const json& error) {
    if (!error.is_object() || !error.contains("error") || !error["error"].is_object())
        return std::nullopt;
    const json& e = error["error"];
    const json& m = error.contains("manifest") ? error["manifest"] : json();
    std::string stage = e.value("stage", "");
    if (stage != "download" && stage != "verify") return std::nullopt;
    if (!e.contains("video_id") || !e["video_id"].is_string()) return std::nullopt;
    if (!m.is_object() || !m.contains("provider") || !m["provider"].is_string())
        return std::nullopt;
    RefetchNote note;
    note.name = name;
    note.provider = m["provider"].get<std::string>();
    note.video_id = e["video_id"].get<std::string>();
    note.key_slot = e.value("key_slot", 0);
    note.prompt = m.value("prompt", "");
    return note;
}

// Where an interrupted earlier retry left NAME's files: those still in failed/ were planned again;
// this looks for the others. `in_inbox` holds inbox names, `missing` the names found nowhere.
struct Leftovers {
    std::vector<std::string> in_inbox, missing;
    std::string manifest;  // the manifest's inbox name, when known
};

Leftovers leftovers(const std::string& failed, const std::string& inbox, const std::string& name,
                    const json& error) {
    Leftovers l;
    auto look = [&](const std::string& original) {
        (exists(inbox + "/" + original) ? l.in_inbox : l.missing).push_back(original);
        if (is_manifest_name(original)) l.manifest = original;
    };
    if (error.contains("files") && error["files"].is_object()) {
        for (const auto& [target, original] : error["files"].items())
            if (original.is_string() && plain(target) && plain(original.get<std::string>()) &&
                !exists(failed + "/" + target))
                look(original.get<std::string>());
        return l;
    }
    std::string manifest = find_manifest(inbox, name);
    look(manifest.empty() ? name + ".json" : manifest);
    return l;
}

// Whether the daemon claimed a job from `manifest` after the error file was written: an earlier
// retry moved it back and the daemon took it before that retry could remove the error file.
bool taken_since(const Config& cfg, const std::string& manifest, const std::string& error_path) {
    std::error_code ec;
    auto written = sfs::last_write_time(error_path, ec);
    if (ec || manifest.empty()) return false;
    const auto since = sfs::file_time_type::clock::to_sys(written);
    for (const auto& job : state_view::jobs(cfg.paths.state))
        if (job.spec.manifest_file == manifest && job.discovered >= since) return true;
    return false;
}

bool remove_error(const std::string& name, const std::string& error_path,
                  const std::string& failed) {
    if (::unlink(error_path.c_str()) != 0 && errno != ENOENT) {
        std::fprintf(stderr,
                     "videodrop: %s: its files are back in the inbox, but %s cannot be removed: "
                     "%s (remove it by hand)\n",
                     name.c_str(), error_path.c_str(), std::strerror(errno));
        return false;
    }
    (void)fs::fsync_dir(failed);
    return true;
}

// No file of NAME is left in failed/ but its error file is: an earlier retry was interrupted
// after its last move, or the files went elsewhere. Finishes the first; reports the second and
// keeps the error file.
int finish_interrupted(const Config& cfg, const std::string& name, const std::string& error_path,
                       const json& error) {
    const std::string& failed = cfg.paths.failed;
    const std::string& inbox = cfg.paths.inbox;
    Leftovers l = leftovers(failed, inbox, name, error);
    if (l.missing.empty() && l.in_inbox.empty()) {
        std::fprintf(stderr, "videodrop: %s: it lists no files; nothing to retry (%s is kept)\n",
                     name.c_str(), error_path.c_str());
        return cli::kFatal;
    }
    if (l.missing.empty()) {
        std::printf("%s: an earlier retry already moved its files back into %s; removing %s\n",
                    name.c_str(), inbox.c_str(), error_path.c_str());
        return remove_error(name, error_path, failed) ? cli::kOk : cli::kFatal;
    }
    if (l.in_inbox.empty() && taken_since(cfg, l.manifest, error_path)) {
        std::printf(
            "%s: an earlier retry already moved its files back and the daemon took the job; "
            "removing %s\n",
            name.c_str(), error_path.c_str());
        return remove_error(name, error_path, failed) ? cli::kOk : cli::kFatal;
    }
    std::string where;
    for (const auto& f : l.missing)
        where += (where.empty() ? "" : ", ") + f;
    std::fprintf(stderr,
                 "videodrop: %s: %s %s in neither %s nor %s (an earlier retry may have moved "
                 "them and the daemon taken the job: see `videodrop status`); %s is kept, remove "
                 "it once nothing is missing\n",
                 name.c_str(), one_line(where, 200).c_str(), l.missing.size() == 1 ? "is" : "are",
                 failed.c_str(), inbox.c_str(), error_path.c_str());
    return cli::kFatal;
}

// Moves what `done` moved back into failed/, newest first. Returns the files it could not.
std::vector<Move> put_back(const std::string& failed, const std::string& inbox,
                           const std::vector<Move>& done) {
    std::vector<Move> stuck;
    for (auto it = done.rbegin(); it != done.rend(); ++it) {
        auto r = fs::move_noreplace(inbox + "/" + it->to, failed + "/" + it->from,
                                    failed + "/." + it->from + ".retry.tmp",
                                    fs::mode_for_folder(failed));
        if (r) continue;
        std::fprintf(stderr, "videodrop: cannot put %s/%s back: %s\n", inbox.c_str(),
                     it->to.c_str(), r.error().message.c_str());
        stuck.push_back(*it);
    }
    (void)fs::fsync_dir(failed);
    (void)fs::fsync_dir(inbox);
    return stuck;
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
    const json error = has_error ? read_error(error_path) : json();
    auto moves = plan(failed, name, error);
    if (moves.empty()) {
        if (has_error) return finish_interrupted(cfg, name, error_path, error);
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
    // A video that was made and paid for but not fetched is fetched again, not created again:
    // the note is in place before the manifest reaches the inbox.
    if (auto note = refetch_note_of(name, error)) {
        if (auto r = write_refetch_note(cfg.paths.state, *note); !r) {
            std::fprintf(stderr, "videodrop: %s: not retried: %s\n", name.c_str(),
                         r.error().c_str());
            return cli::kFatal;
        }
        std::printf("%s: video %s is paid for already; the daemon fetches it again\n", name.c_str(),
                    note->video_id.c_str());
    }
    // Manifests last: the daemon takes a manifest as soon as it appears.
    std::stable_partition(moves.begin(), moves.end(),
                          [](const Move& m) { return !is_manifest_name(m.to); });

    // The error file stays until every file is back: until then it is the record of the job. A
    // quick second failure of the job while it is still here is written as NAME-2.error.json.
    std::vector<Move> done;
    for (const auto& m : moves) {
        auto r = fs::move_noreplace(failed + "/" + m.from, inbox + "/" + m.to,
                                    inbox + "/." + m.to + ".retry.tmp", fs::mode_for_folder(inbox));
        if (!r) {
            std::string why = r.error().message;
            if (r.error().err == EEXIST) why += "; move it away first";
            std::fprintf(stderr, "videodrop: %s: %s\n", name.c_str(), why.c_str());
            auto stuck = put_back(failed, inbox, done);
            const char* kept = has_error ? "; its error file is kept" : "";
            if (stuck.empty())
                std::fprintf(stderr, "videodrop: %s: not retried, its files are still in %s%s\n",
                             name.c_str(), failed.c_str(), kept);
            else
                std::fprintf(stderr,
                             "videodrop: %s: not retried, and %zu file(s) could not be put back "
                             "and stay in %s%s; `videodrop retry %s` again moves the rest once "
                             "the problem is fixed\n",
                             name.c_str(), stuck.size(), inbox.c_str(), kept, name.c_str());
            return cli::kFatal;
        }
        done.push_back(m);
        std::printf("moved %s/%s -> %s/%s\n", failed.c_str(), m.from.c_str(), inbox.c_str(),
                    m.to.c_str());
    }
    // Durable in the inbox before the record of the failure goes.
    (void)fs::fsync_dir(inbox);
    (void)fs::fsync_dir(failed);
    if (has_error && !remove_error(name, error_path, failed)) return cli::kFatal;
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
