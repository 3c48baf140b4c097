#include "daemon/fsutil.hpp"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace vd::fs {
namespace {

std::string why(int err) {
    return std::strerror(err);
}

std::string parent_of(const std::string& path) {
    auto slash = path.find_last_of('/');
    if (slash == std::string::npos) return ".";
    if (slash == 0) return "/";
    return path.substr(0, slash);
}

// Closes on scope exit; close errors that matter (after writes) are checked explicitly.
struct Fd {
    int fd = -1;
    ~Fd() {
        if (fd >= 0) ::close(fd);
    }
    int release() {
        int f = fd;
        fd = -1;
        return f;
    }
};

tl::expected<void, std::string> write_all(int fd, std::string_view data, const std::string& path) {
    while (!data.empty()) {
        ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            return tl::unexpected("cannot write " + path + ": " + why(errno) +
                                  " (check free space and permissions)");
        }
        data.remove_prefix(static_cast<size_t>(n));
    }
    return {};
}

}  // namespace

FileMode mode_for_folder(const std::string& dir) {
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return {};
    FileMode m;
    m.mode = (st.st_mode & 0666) | 0600;
    m.group = st.st_gid;
    return m;
}

tl::expected<int, std::string> create_new(const std::string& path, FileMode mode) {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT)
        return tl::unexpected("cannot replace " + path + ": " + why(errno) +
                              " (check the folder's permissions)");
    int fd = ::open(path.c_str(), O_CREAT | O_EXCL | O_NOFOLLOW | O_WRONLY | O_CLOEXEC, 0600);
    if (fd < 0)
        return tl::unexpected("cannot create " + path + ": " + why(errno) +
                              (errno == EEXIST
                                   ? " (something else created it at the same moment)"
                                   : " (check that the folder exists and is writable)"));
    // Group first: changing it may clear set-id bits, and the mode is set last.
    if (mode.group != static_cast<gid_t>(-1))
        (void)::fchown(fd, static_cast<uid_t>(-1), mode.group);
    if (::fchmod(fd, mode.mode) != 0) {
        int err = errno;
        ::close(fd);
        ::unlink(path.c_str());
        return tl::unexpected("cannot set the mode of " + path + ": " + why(err));
    }
    return fd;
}

std::string random_hex(size_t n) {
    std::string bytes(n, '\0');
    for (size_t got = 0; got < n;) {
        ssize_t r = ::getrandom(bytes.data() + got, n - got, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;  // cannot happen on Linux >= 3.17 once the pool is ready
        got += static_cast<size_t>(r);
    }
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (unsigned char c : bytes) {
        out += digits[c >> 4];
        out += digits[c & 15];
    }
    return out;
}

tl::expected<void, std::string> write_new(const std::string& path, std::string_view data,
                                          FileMode mode) {
    auto created = create_new(path, mode);
    if (!created) return tl::unexpected(created.error());
    Fd f{*created};
    auto fail = [&](std::string msg) -> tl::expected<void, std::string> {
        if (f.fd >= 0) ::close(f.release());
        ::unlink(path.c_str());
        return tl::unexpected(std::move(msg));
    };
    if (auto w = write_all(f.fd, data, path); !w) return fail(w.error());
    if (::fsync(f.fd) != 0) return fail("cannot fsync " + path + ": " + why(errno));
    if (::close(f.release()) != 0) return fail("cannot close " + path + ": " + why(errno));
    return {};
}

tl::expected<void, std::string> write_atomic(const std::string& path, std::string_view data,
                                             FileMode mode) {
    const std::string tmp = path + "." + random_hex(6) + ".tmp";
    if (auto w = write_new(tmp, data, mode); !w) return w;
    auto fail = [&](std::string msg) -> tl::expected<void, std::string> {
        ::unlink(tmp.c_str());
        return tl::unexpected(std::move(msg));
    };
    if (::rename(tmp.c_str(), path.c_str()) != 0)
        return fail("cannot rename " + tmp + " to " + path + ": " + why(errno));
    return fsync_dir(parent_of(path));
}

tl::expected<void, std::string> rename_durable(const std::string& from, const std::string& to) {
    if (::rename(from.c_str(), to.c_str()) != 0)
        return tl::unexpected("cannot move " + from + " to " + to + ": " + why(errno));
    const std::string to_dir = parent_of(to), from_dir = parent_of(from);
    if (auto r = fsync_dir(to_dir); !r) return r;
    if (from_dir != to_dir) return fsync_dir(from_dir);
    return {};
}

tl::expected<std::string, std::string> read_file(const std::string& path, size_t max_bytes) {
    Fd f{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
    if (f.fd < 0) return tl::unexpected("cannot read " + path + ": " + why(errno));
    struct stat st {};
    if (::fstat(f.fd, &st) != 0) return tl::unexpected("cannot stat " + path + ": " + why(errno));
    auto too_big = [&](uint64_t size) {
        return tl::unexpected("file " + path + " is " + std::to_string(size) +
                              " bytes, more than the limit of " + std::to_string(max_bytes) +
                              " bytes; make it smaller");
    };
    if (static_cast<uint64_t>(st.st_size) > max_bytes) return too_big(st.st_size);
    std::string out;
    out.reserve(static_cast<size_t>(st.st_size));
    char buf[65536];
    // Read to EOF rather than trusting st_size: the file may still be growing.
    for (;;) {
        ssize_t n = ::read(f.fd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            return tl::unexpected("cannot read " + path + ": " + why(errno));
        }
        if (n == 0) break;
        out.append(buf, static_cast<size_t>(n));
        if (out.size() > max_bytes) return too_big(out.size());
    }
    return out;
}

bool exists(const std::string& path) {
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0;
}

std::chrono::milliseconds age_of(const struct stat& st) {
    struct timespec now;
    ::clock_gettime(CLOCK_REALTIME, &now);
    const int64_t ns = (int64_t{now.tv_sec} - st.st_mtim.tv_sec) * 1'000'000'000 +
                       (now.tv_nsec - st.st_mtim.tv_nsec);
    return ns < 0 ? std::chrono::milliseconds{-1} : std::chrono::milliseconds{ns / 1'000'000};
}

tl::expected<void, std::string> fsync_dir(const std::string& dir) {
    Fd f{::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
    if (f.fd < 0) return tl::unexpected("cannot open folder " + dir + ": " + why(errno));
    if (::fsync(f.fd) != 0) return tl::unexpected("cannot fsync folder " + dir + ": " + why(errno));
    return {};
}

tl::expected<void, std::string> make_dirs(const std::string& dir, mode_t mode) {
    if (dir.empty()) return tl::unexpected(std::string("make_dirs: empty folder name"));
    // Walk the prefixes so each new folder's parent can be fsynced: a created folder must survive
    // a crash as much as the files later placed in it.
    for (size_t pos = 1; pos <= dir.size(); ++pos) {
        if (pos != dir.size() && dir[pos] != '/') continue;
        const std::string prefix = dir.substr(0, pos);
        if (::mkdir(prefix.c_str(), mode) == 0) {
            if (auto r = fsync_dir(parent_of(prefix)); !r) return r;
            continue;
        }
        if (errno != EEXIST)
            return tl::unexpected("cannot create folder " + prefix + ": " + why(errno) +
                                  " (check the path and permissions)");
        struct stat st {};
        if (::stat(prefix.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
            return tl::unexpected(prefix + " exists but is not a folder; move it away");
    }
    return {};
}

tl::expected<void, std::string> private_dir(const std::string& dir) {
    struct stat st {};
    if (::lstat(dir.c_str(), &st) != 0) {
        if (errno != ENOENT) return tl::unexpected("cannot read " + dir + ": " + why(errno));
        if (auto r = make_dirs(dir, 0700); !r) return r;
        if (::lstat(dir.c_str(), &st) != 0)
            return tl::unexpected("cannot read " + dir + ": " + why(errno));
    }
    if (S_ISLNK(st.st_mode))
        return tl::unexpected(dir + " is a symlink; it must be a real folder (remove the link)");
    if (!S_ISDIR(st.st_mode))
        return tl::unexpected(dir + " exists but is not a folder; move it away");
    // root (`sudo videodrop cancel`) works in the daemon's folders as they are.
    if (::geteuid() == 0 && st.st_uid != 0) return {};
    if (st.st_uid != ::geteuid())
        return tl::unexpected(dir + " belongs to user " + std::to_string(st.st_uid) +
                              ", not to this one (" + std::to_string(::geteuid()) +
                              "); remove it so it can be made again");
    // mkdir(2) applies the umask, and a folder from an older version may be 0755.
    if ((st.st_mode & 07777) != 0700 && ::chmod(dir.c_str(), 0700) != 0)
        return tl::unexpected("cannot make " + dir + " private (chmod 0700): " + why(errno));
    return {};
}

}  // namespace vd::fs
