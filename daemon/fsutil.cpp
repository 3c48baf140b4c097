#include "daemon/fsutil.hpp"

#include <fcntl.h>
#include <sys/stat.h>
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

tl::expected<void, std::string> write_atomic(const std::string& path, std::string_view data) {
    const std::string tmp = path + ".tmp";
    Fd f{::open(tmp.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644)};
    if (f.fd < 0)
        return tl::unexpected("cannot create " + tmp + ": " + why(errno) +
                              " (check that the folder exists and is writable)");
    auto fail = [&](std::string msg) -> tl::expected<void, std::string> {
        if (f.fd >= 0) ::close(f.release());
        ::unlink(tmp.c_str());
        return tl::unexpected(std::move(msg));
    };
    if (auto w = write_all(f.fd, data, tmp); !w) return fail(w.error());
    if (::fsync(f.fd) != 0) return fail("cannot fsync " + tmp + ": " + why(errno));
    if (::close(f.release()) != 0) return fail("cannot close " + tmp + ": " + why(errno));
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

tl::expected<void, std::string> fsync_dir(const std::string& dir) {
    Fd f{::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
    if (f.fd < 0) return tl::unexpected("cannot open folder " + dir + ": " + why(errno));
    if (::fsync(f.fd) != 0) return tl::unexpected("cannot fsync folder " + dir + ": " + why(errno));
    return {};
}

tl::expected<void, std::string> make_dirs(const std::string& dir) {
    if (dir.empty()) return tl::unexpected(std::string("make_dirs: empty folder name"));
    // Walk the prefixes so each new folder's parent can be fsynced: a created folder must survive
    // a crash as much as the files later placed in it.
    for (size_t pos = 1; pos <= dir.size(); ++pos) {
        if (pos != dir.size() && dir[pos] != '/') continue;
        const std::string prefix = dir.substr(0, pos);
        if (::mkdir(prefix.c_str(), 0755) == 0) {
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

}  // namespace vd::fs
