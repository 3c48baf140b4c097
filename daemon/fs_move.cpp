#include "daemon/fs_move.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace vd::fs {

namespace {
std::string why(int err) {
    return std::strerror(err);
}
}  // namespace

int rename_noreplace(const std::string& from, const std::string& to) {
    if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) return 0;
    if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP) return errno;
    // Filesystems without RENAME_NOREPLACE (NFS, ...): link(2) refuses to replace too.
    if (::link(from.c_str(), to.c_str()) == 0) return ::unlink(from.c_str()) == 0 ? 0 : errno;
    if (errno != EPERM && errno != ENOTSUP && errno != EOPNOTSUPP) return errno;
    struct stat st {};
    if (::lstat(to.c_str(), &st) == 0) return EEXIST;  // last resort, racy: no hard links either
    return ::rename(from.c_str(), to.c_str()) == 0 ? 0 : errno;
}

tl::expected<void, std::string> copy_durable(const std::string& from, const std::string& staging,
                                             FileMode mode) {
    struct stat st {};
    if (::lstat(from.c_str(), &st) != 0)
        return tl::unexpected("cannot read " + from + ": " + why(errno));
    ::unlink(staging.c_str());
    if (S_ISLNK(st.st_mode)) {
        std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
        ssize_t n = ::readlink(from.c_str(), target.data(), target.size());
        if (n < 0 ||
            ::symlink(target.substr(0, static_cast<size_t>(n)).c_str(), staging.c_str()) != 0)
            return tl::unexpected("cannot copy the symlink " + from + ": " + why(errno));
        return {};
    }
    int in = ::open(from.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (in < 0) return tl::unexpected("cannot read " + from + ": " + why(errno));
    auto created = create_new(staging, mode);
    if (!created) {
        ::close(in);
        return tl::unexpected(created.error());
    }
    int out = *created;
    std::vector<char> buf(1 << 20);
    int err = 0;
    for (;;) {
        ssize_t n = ::read(in, buf.data(), buf.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            err = n < 0 ? errno : 0;
            break;
        }
        for (ssize_t done = 0; done < n && err == 0;) {
            ssize_t w = ::write(out, buf.data() + done, static_cast<size_t>(n - done));
            if (w < 0 && errno != EINTR) err = errno;
            if (w > 0) done += w;
        }
        if (err != 0) break;
    }
    if (err == 0 && ::fsync(out) != 0) err = errno;
    ::close(in);
    if (::close(out) != 0 && err == 0) err = errno;
    if (err != 0) {
        ::unlink(staging.c_str());
        return tl::unexpected("cannot copy " + from + " to " + staging + ": " + why(err) +
                              " (check free space)");
    }
    return {};
}

tl::expected<void, MoveError> move_noreplace(const std::string& from, const std::string& to,
                                             const std::string& staging, FileMode mode) {
    int err = rename_noreplace(from, to);
    if (err == EXDEV) {
        if (auto c = copy_durable(from, staging, mode); !c)
            return tl::unexpected(MoveError{EXDEV, c.error()});
        err = rename_noreplace(staging, to);
        if (err == 0) {
            if (::unlink(from.c_str()) != 0)
                return tl::unexpected(MoveError{errno, "copied " + from + " to " + to +
                                                           " but cannot remove it: " + why(errno)});
            return {};
        }
        ::unlink(staging.c_str());
    }
    if (err == EEXIST) return tl::unexpected(MoveError{EEXIST, to + " already exists"});
    if (err != 0)
        return tl::unexpected(
            MoveError{err, "cannot move " + from + " to " + to + ": " + why(err)});
    return {};
}

}  // namespace vd::fs
