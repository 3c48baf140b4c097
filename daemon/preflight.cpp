#include "daemon/preflight.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <optional>
#include <utility>

namespace vd {

namespace {

// The folder itself, or the nearest parent that exists (what a later mkdir would write into).
std::string nearest_existing(std::string dir) {
    struct stat st {};
    while (!dir.empty() && ::stat(dir.c_str(), &st) != 0) {
        auto slash = dir.find_last_of('/');
        if (slash == std::string::npos) return ".";
        dir = slash == 0 ? "/" : dir.substr(0, slash);
    }
    return dir.empty() ? "." : dir;
}

// The mount a folder is on (statx's mount id), or nullopt where the kernel cannot say. A rename
// between two mounts fails with EXDEV even on one filesystem: a bind mount, such as each of a
// systemd unit's ReadWritePaths= and StateDirectory=, is a mount of its own.
std::optional<uint64_t> mount_of(const std::string& dir) {
    struct statx sx {};
    if (::statx(AT_FDCWD, dir.c_str(), 0, STATX_MNT_ID, &sx) != 0 || !(sx.stx_mask & STATX_MNT_ID))
        return std::nullopt;
    return sx.stx_mnt_id;
}

}  // namespace

std::vector<std::string> preflight(const Paths& paths) {
    std::vector<std::string> problems;
    const std::pair<const char*, const std::string*> folders[] = {
        {"inbox", &paths.inbox},
        {"outbox", &paths.outbox},
        {"failed", &paths.failed},
        {"state", &paths.state},
    };
    for (const auto& [key, dir] : folders) {
        std::string at = nearest_existing(*dir);
        struct stat st {};
        if (::stat(at.c_str(), &st) == 0 && !S_ISDIR(st.st_mode)) {
            problems.push_back("[paths] " + std::string(key) + " " + *dir + ": " + at +
                               " is not a folder (point " + key + " at a folder)");
            continue;
        }
        if (::access(at.c_str(), W_OK | X_OK) != 0) {
            std::string what = at == *dir ? "is" : "cannot be made: " + at + " is";
            problems.push_back("[paths] " + std::string(key) + " " + *dir + " " + what +
                               " not writable by uid " + std::to_string(::geteuid()) +
                               " (give it to the user videodrop runs as, or to a group it is in "
                               "with chgrp and chmod g+rwx)");
        }
    }
    const std::string in_at = nearest_existing(paths.inbox),
                      state_at = nearest_existing(paths.state);
    struct stat in {
    }, state{};
    if (::stat(in_at.c_str(), &in) != 0 || ::stat(state_at.c_str(), &state) != 0) return problems;
    const std::string both = "[paths] inbox " + paths.inbox + " and state " + paths.state;
    if (in.st_dev != state.st_dev) {
        problems.push_back(both +
                           " are on different filesystems, and a manifest is claimed by a "
                           "rename from one into the other (put both on one filesystem; outbox "
                           "and failed may be elsewhere)");
    } else if (auto a = mount_of(in_at), b = mount_of(state_at); a && b && *a != *b) {
        problems.push_back(both +
                           " are on different mounts of one filesystem (a bind mount, such as "
                           "two ReadWritePaths= or a StateDirectory= of a systemd unit), and a "
                           "rename cannot cross mounts (put state under the same mount as the "
                           "inbox, e.g. both under one ReadWritePaths= folder)");
    }
    return problems;
}

}  // namespace vd
