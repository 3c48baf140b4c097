#include "daemon/delivery.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "daemon/fs_move.hpp"
#include "daemon/fsutil.hpp"
#include "daemon/sha256.hpp"

namespace vd::delivery {
namespace {

using fs::exists;
using nlohmann::json;

constexpr const char* kPlanFile =
    ".failed.json";  // in the claim folder: the stem chosen for failed/

std::string why(int err) {
    return std::strerror(err);
}

std::string ext_of(const std::string& variant) {
    if (variant == "video") return "mp4";
    if (variant == "thumbnail") return "webp";
    if (variant == "spritesheet") return "jpg";
    return "bin";
}

// Whether two paths hold the same bytes (one may be a leftover of an interrupted move).
bool same_content(const std::string& a, const std::string& b) {
    auto ha = sha256_file(a), hb = sha256_file(b);
    return ha && hb && *ha == *hb;
}

// Gives a finished download its published mode and group, and makes it durable.
tl::expected<void, std::string> finish_file(const std::string& path, fs::FileMode mode) {
    int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return tl::unexpected("cannot open " + path + ": " + why(errno));
    if (mode.group != static_cast<gid_t>(-1))
        (void)::fchown(fd, static_cast<uid_t>(-1), mode.group);
    (void)::fchmod(fd, mode.mode);
    int rc = ::fsync(fd), err = errno;
    ::close(fd);
    if (rc != 0) return tl::unexpected("cannot fsync " + path + ": " + why(err));
    return {};
}

// Moves `from` to `to` without replacing anything. When `to` already holds the same bytes (a move
// interrupted after the link or copy), the source is dropped. `staging` is for the copy fallback.
tl::expected<void, std::string> place(const std::string& from, const std::string& to,
                                      const std::string& staging, fs::FileMode mode) {
    auto moved = fs::move_noreplace(from, to, staging, mode);
    if (moved) return {};
    if (moved.error().err != EEXIST) return tl::unexpected(moved.error().message);
    if (!same_content(from, to))
        return tl::unexpected(to + " already exists and is not this job's file; move it away");
    ::unlink(from.c_str());
    return {};
}

// Whether `path` is a plain file of ours: what is published is never a symlink or a file
// someone else put there.
bool our_regular_file(const std::string& path) {
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == ::geteuid();
}

// Puts one downloaded file into the outbox, or checks that an earlier run already did.
tl::expected<void, std::string> publish_file(const std::string& tmp, const std::string& dest,
                                             const std::string& sha256, fs::FileMode mode) {
    if (exists(tmp)) {
        if (!our_regular_file(tmp))
            return tl::unexpected(tmp +
                                  " is not the file videodrop downloaded (a symlink or "
                                  "another user's file); it is not published");
        // The download may not have been fsynced; what appears in the outbox must be.
        if (auto f = finish_file(tmp, mode); !f) return f;
        return place(tmp, dest, tmp + ".copy", mode);
    }
    if (!exists(dest))
        return tl::unexpected("the download " + tmp + " is missing; it must be downloaded again");
    if (!sha256.empty()) {
        auto sum = sha256_file(dest);
        if (!sum) return tl::unexpected(sum.error());
        if (*sum != sha256)
            return tl::unexpected(dest + " already exists and is not this job's video (sha256 " +
                                  *sum + ", expected " + sha256 + "); move it away");
    }
    return {};
}

tl::expected<void, std::string> publish_sidecar(const Paths& paths, const Job& job,
                                                const json& sidecar, const std::string& dest) {
    if (exists(dest)) {
        // Ours when it describes the same video: the crash came after its rename.
        auto text = fs::read_file(dest, 16u << 20);
        json old = text ? json::parse(*text, nullptr, false) : json();
        if (old.is_object() && old.value("name", "") == sidecar.value("name", "") &&
            old.contains("file") && old["file"].is_object() &&
            old["file"].value("sha256", "") == job.media.sha256)
            return {};
        return tl::unexpected(dest + " already exists and is not this job's sidecar; move it away");
    }
    const std::string tmp = paths.outbox + "/.tmp/" + job.id + ".sidecar.json";
    const fs::FileMode mode = fs::mode_for_folder(paths.outbox);
    // Whole and durable before its rename into the outbox; a crash before that leaves a file in
    // .tmp that the next attempt replaces.
    if (auto w = fs::write_new(tmp, sidecar.dump(2) + "\n", mode); !w) return w;
    if (auto p = place(tmp, dest, tmp + ".copy", mode); !p) return p;
    return fs::fsync_dir(paths.outbox);
}

std::string sanitize(const std::string& name) {
    std::string s = name.substr(0, 200);
    for (char& c : s)
        if (c == '/' || c == '\0') c = '_';
    return s.empty() || s == "." || s == ".." ? "job" : s;
}

// The name a file gets in failed/ under the n-th candidate stem.
std::string failed_name(const std::string& file, const std::string& name, int n) {
    if (n == 1) return file;
    const std::string suffix = "-" + std::to_string(n);
    if (file.starts_with(name + ".")) return name + suffix + file.substr(name.size());
    auto dot = file.find_last_of('.');
    if (dot == std::string::npos || dot == 0) return file + suffix;
    return file.substr(0, dot) + suffix + file.substr(dot);
}

bool valid_plan(const json& plan) {
    if (!plan.is_object() || !plan.contains("stem") || !plan["stem"].is_string() ||
        !plan.contains("files") || !plan["files"].is_object())
        return false;
    for (const auto& [target, original] : plan["files"].items())
        if (!original.is_string() || target.find('/') != std::string::npos) return false;
    return true;
}

// Chooses the stem and file names in failed/ and records them in the claim folder.
tl::expected<json, std::string> plan_failed(const Paths& paths, const std::string& claimed_dir,
                                            const std::vector<std::string>& files,
                                            const std::string& name) {
    const std::string plan_path = claimed_dir + "/" + kPlanFile;
    if (exists(plan_path)) {
        auto text = fs::read_file(plan_path, 1u << 20);
        json plan = text ? json::parse(*text, nullptr, false) : json();
        if (valid_plan(plan)) return plan;
    }
    for (int n = 1;; ++n) {
        const std::string stem = n == 1 ? name : name + "-" + std::to_string(n);
        if (exists(paths.failed + "/" + stem + ".error.json")) continue;
        json mapping = json::object();
        bool free = true;
        for (const auto& f : files) {
            if (f.empty() || f.find('/') != std::string::npos || !exists(claimed_dir + "/" + f))
                continue;
            const std::string target = failed_name(f, name, n);
            free = free && !exists(paths.failed + "/" + target) && !mapping.contains(target);
            mapping[target] = f;
        }
        if (!free) continue;
        json plan = {{"stem", stem}, {"files", mapping}};
        if (auto w = fs::write_atomic(plan_path, plan.dump() + "\n"); !w)
            return tl::unexpected(w.error());
        return plan;
    }
}

}  // namespace

tl::expected<void, std::string> prepare(const Paths& paths) {
    for (const auto& d : {paths.outbox, paths.failed})
        if (auto r = fs::make_dirs(d); !r) return r;
    // Others may write to outbox/ and failed/; nobody but us may write where files are made.
    // A symlink put in the folder's place is removed (unlink does not follow it) and the
    // folder made again.
    for (const auto& d : {paths.outbox + "/.tmp", paths.failed + "/.tmp"}) {
        struct stat st {};
        if (::lstat(d.c_str(), &st) == 0 && S_ISLNK(st.st_mode) && ::unlink(d.c_str()) != 0)
            return tl::unexpected("cannot remove the symlink " + d + ": " + why(errno));
        if (auto r = fs::private_dir(d); !r) return r;
    }
    return {};
}

std::string tmp_path(const Paths& paths, const std::string& job_id, const std::string& variant) {
    return paths.outbox + "/.tmp/" + job_id + "." + variant + "." + ext_of(variant);
}

void discard_tmp(const Paths& paths, const std::string& job_id) {
    if (job_id.empty() || job_id.find('/') != std::string::npos) return;
    // Everything of the job's: downloads, copies, the sidecar and its randomly named temporary.
    const std::string dir = paths.outbox + "/.tmp", prefix = job_id + ".";
    DIR* d = ::opendir(dir.c_str());
    if (!d) return;
    while (const dirent* e = ::readdir(d))
        if (std::string_view(e->d_name).starts_with(prefix)) ::unlinkat(::dirfd(d), e->d_name, 0);
    ::closedir(d);
}

std::string shot_path(const Paths& paths, const std::string& storyboard, int shot,
                      const std::string& ext) {
    return paths.outbox + "/.tmp/" + storyboard + ".shot" + std::to_string(shot + 1) + "." + ext;
}

tl::expected<void, std::string> keep_shot(const Paths& paths, const std::string& shot_id,
                                          const std::string& kept) {
    const std::string download = tmp_path(paths, shot_id, "video");
    if (!exists(download)) {
        if (exists(kept)) return {};  // kept before a restart
        return tl::unexpected("the shot's download " + download + " is missing");
    }
    if (auto f = finish_file(download, fs::FileMode{}); !f) return f;
    if (::rename(download.c_str(), kept.c_str()) != 0)
        return tl::unexpected("cannot keep " + download + " as " + kept + ": " + why(errno));
    return fs::fsync_dir(paths.outbox + "/.tmp");
}

void discard_shots(const Paths& paths, const Job& storyboard) {
    discard_tmp(paths, storyboard.id);  // STORYBOARD.shotN.*
    for (const auto& shot : storyboard.children)
        discard_tmp(paths, shot);
}

std::string output_file(const std::string& stem, const std::string& variant) {
    if (variant == "video") return stem + ".mp4";
    return stem + "." + variant + "." + ext_of(variant);
}

std::string choose_output_name(const Paths& paths, const std::string& name) {
    for (int n = 1;; ++n) {
        const std::string stem = n == 1 ? name : name + "-" + std::to_string(n);
        bool free = !exists(paths.outbox + "/" + stem + ".json");
        for (const char* v : {"video", "thumbnail", "spritesheet"})
            free = free && !exists(paths.outbox + "/" + output_file(stem, v));
        if (free) return stem;
    }
}

tl::expected<std::string, std::string> publish(const Paths& paths, const Job& job,
                                               const json& sidecar) {
    const std::string& stem = job.output_name;
    if (stem.empty() || stem.find('/') != std::string::npos)
        return tl::unexpected("job " + job.id + " has no output name; choose_output_name() first");
    if (!sidecar.is_object() || sidecar.value("name", "") != stem)
        return tl::unexpected("the sidecar of job " + job.id + " is not made for " + stem);
    if (auto r = prepare(paths); !r) return tl::unexpected(r.error());

    const fs::FileMode mode = fs::mode_for_folder(paths.outbox);
    for (const auto& v : job.variants_done) {
        if (v == "video") continue;
        auto r = publish_file(tmp_path(paths, job.id, v), paths.outbox + "/" + output_file(stem, v),
                              "", mode);
        if (!r) return tl::unexpected(r.error());
    }
    auto r = publish_file(tmp_path(paths, job.id, "video"),
                          paths.outbox + "/" + output_file(stem, "video"), job.media.sha256, mode);
    if (!r) return tl::unexpected(r.error());
    // The video must be durable in the outbox before the sidecar can say it is complete.
    if (auto s = fs::fsync_dir(paths.outbox); !s) return tl::unexpected(s.error());
    if (auto s = fs::fsync_dir(paths.outbox + "/.tmp"); !s) return tl::unexpected(s.error());

    if (auto s = publish_sidecar(paths, job, sidecar, paths.outbox + "/" + stem + ".json"); !s)
        return tl::unexpected(s.error());
    return stem;
}

tl::expected<std::string, std::string> move_to_failed(const Paths& paths,
                                                      const std::string& claimed_dir,
                                                      const std::vector<std::string>& files,
                                                      const std::string& name,
                                                      const json& error_json) {
    if (auto r = prepare(paths); !r) return tl::unexpected(r.error());
    auto plan = plan_failed(paths, claimed_dir, files, sanitize(name));
    if (!plan) return tl::unexpected(plan.error());
    const std::string stem = (*plan)["stem"].get<std::string>();
    const fs::FileMode mode = fs::mode_for_folder(paths.failed);

    for (const auto& [target, original] : (*plan)["files"].items()) {
        const std::string from = claimed_dir + "/" + original.get<std::string>();
        if (!exists(from)) continue;  // moved by an earlier, interrupted run
        auto r = place(from, paths.failed + "/" + target,
                       paths.failed + "/.tmp/" + target + ".copy", mode);
        if (!r) return tl::unexpected(r.error());
    }
    if (auto s = fs::fsync_dir(paths.failed); !s) return tl::unexpected(s.error());
    if (auto s = fs::fsync_dir(claimed_dir); !s) return tl::unexpected(s.error());

    const std::string dest = paths.failed + "/" + stem + ".error.json";
    if (exists(dest)) return stem;  // written by an earlier run that was following the same plan
    json error = error_json.is_object() ? error_json : json::object();
    error["name"] = stem;
    error["files"] = (*plan)["files"];
    const std::string tmp = paths.failed + "/.tmp/" + stem + ".error.json";
    if (auto w = fs::write_atomic(tmp, error.dump(2) + "\n", mode); !w)
        return tl::unexpected(w.error());
    if (auto p = place(tmp, dest, tmp + ".copy", mode); !p) return tl::unexpected(p.error());
    if (auto s = fs::fsync_dir(paths.failed); !s) return tl::unexpected(s.error());
    return stem;
}

}  // namespace vd::delivery
