#include "daemon/preflight.hpp"

#include <sys/stat.h>
#include <unistd.h>

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
    struct stat in {
    }, state{};
    if (::stat(nearest_existing(paths.inbox).c_str(), &in) == 0 &&
        ::stat(nearest_existing(paths.state).c_str(), &state) == 0 && in.st_dev != state.st_dev)
        problems.push_back("[paths] inbox " + paths.inbox + " and state " + paths.state +
                           " are on different filesystems, and a manifest is claimed by a "
                           "rename from one into the other (put both on one filesystem; outbox "
                           "and failed may be elsewhere)");
    return problems;
}

}  // namespace vd
