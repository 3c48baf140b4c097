#include "daemon/cancel_requests.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "daemon/fsutil.hpp"

namespace vd::cancel_requests {

std::string folder(const std::string& state_dir) {
    return state_dir + "/cancel";
}

tl::expected<void, std::string> request(const std::string& state_dir, const std::string& name) {
    const std::string dir = folder(state_dir);
    if (auto r = fs::make_dirs(dir, 0700); !r) return r;
    const std::string path = dir + "/" + name;
    int fd = ::open(path.c_str(), O_CREAT | O_EXCL | O_NOFOLLOW | O_WRONLY | O_CLOEXEC, 0600);
    if (fd < 0 && errno != EEXIST)
        return tl::unexpected("cannot create " + path + ": " + std::strerror(errno));
    if (fd >= 0) ::close(fd);
    return fs::fsync_dir(dir);
}

std::vector<std::string> pending(const std::string& state_dir) {
    const std::string dir = folder(state_dir);
    std::vector<std::string> names;
    DIR* d = ::opendir(dir.c_str());
    if (!d) return names;
    while (dirent* e = ::readdir(d))
        if (e->d_name[0] != '.') names.emplace_back(e->d_name);
    ::closedir(d);
    return names;
}

void done(const std::string& state_dir, const std::string& name) {
    ::unlink((folder(state_dir) + "/" + name).c_str());
}

}  // namespace vd::cancel_requests
