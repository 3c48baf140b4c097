#include "daemon/manage_util.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "daemon/cli.hpp"
#include "daemon/fsutil.hpp"

namespace vd::manage {

namespace sfs = std::filesystem;
using nlohmann::json;

std::vector<Job> read_jobs(const std::string& state_dir) {
    std::vector<Job> jobs;
    std::error_code ec;
    const std::string dir = state_dir + "/jobs";
    for (sfs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        const std::string name = it->path().filename().string();
        if (name.empty() || name.front() == '.' || !name.ends_with(".json")) continue;
        auto text = fs::read_file(it->path().string(), 16u << 20);
        if (!text) continue;  // renamed away or unreadable: the daemon knows better
        auto j = json::parse(*text, nullptr, false);
        try {
            if (j.is_discarded()) throw std::runtime_error("not JSON");
            jobs.push_back(j.get<Job>());
        } catch (const std::exception&) {
            std::fprintf(stderr, "videodrop: %s/%s is not a job record, skipped\n", dir.c_str(),
                         name.c_str());
        }
    }
    return jobs;
}

Ledger read_ledger(const std::string& state_dir) {
    Ledger ledger;
    std::ifstream in(state_dir + "/ledger.jsonl");
    std::string line;
    while (std::getline(in, line)) {
        auto j = json::parse(line, nullptr, false);
        if (j.is_discarded() || !j.is_object()) continue;
        try {
            ledger.add(j.get<LedgerEntry>());
        } catch (const std::exception&) {
        }
    }
    return ledger;
}

bool daemon_running(const std::string& state_dir) {
    // Never create the lock file: that is the store's.
    int fd = ::open((state_dir + "/lock").c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    bool held = ::flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK;
    ::close(fd);  // releases our lock, if we got it
    return held;
}

bool exists(const std::string& path) {
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0;
}

int rename_noreplace(const std::string& from, const std::string& to) {
    if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) return 0;
    if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP) return errno;
    // Filesystems without RENAME_NOREPLACE (NFS, ...): link(2) refuses to replace too.
    if (::link(from.c_str(), to.c_str()) == 0) return ::unlink(from.c_str()) == 0 ? 0 : errno;
    if (errno != EPERM && errno != ENOTSUP && errno != EOPNOTSUPP) return errno;
    if (exists(to)) return EEXIST;
    return ::rename(from.c_str(), to.c_str()) == 0 ? 0 : errno;
}

tl::expected<void, std::string> copy_durable(const std::string& from, const std::string& to) {
    std::error_code ec;
    sfs::copy_file(from, to, sfs::copy_options::overwrite_existing, ec);
    if (ec) return tl::unexpected("cannot copy " + from + " to " + to + ": " + ec.message());
    int fd = ::open(to.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 || ::fsync(fd) != 0) {
        std::string msg = "cannot fsync " + to + ": " + std::strerror(errno);
        if (fd >= 0) ::close(fd);
        return tl::unexpected(msg);
    }
    ::close(fd);
    return {};
}

tl::expected<void, std::string> move_noreplace(const std::string& from, const std::string& to,
                                               const std::string& staging) {
    int err = rename_noreplace(from, to);
    if (err == EXDEV) {
        if (auto c = copy_durable(from, staging); !c) return c;
        err = rename_noreplace(staging, to);
        if (err == 0) {
            if (::unlink(from.c_str()) != 0)
                return tl::unexpected("copied " + from + " to " + to +
                                      " but cannot remove it: " + std::strerror(errno));
            return {};
        }
        ::unlink(staging.c_str());
    }
    if (err == EEXIST) return tl::unexpected(to + " already exists; move it away first");
    if (err != 0)
        return tl::unexpected("cannot move " + from + " to " + to + ": " + std::strerror(err));
    return {};
}

namespace {

// Length of the UTF-8 sequence at s[i] and its code point, or 0 when it is not valid UTF-8.
size_t decode(std::string_view s, size_t i, uint32_t& cp) {
    auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
    unsigned char c = b(i);
    size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (len == 0 || i + len > s.size()) return 0;
    cp = len == 1 ? c : c & (0x7f >> len);
    for (size_t k = 1; k < len; ++k) {
        if ((b(i + k) & 0xc0) != 0x80) return 0;
        cp = (cp << 6) | (b(i + k) & 0x3f);
    }
    static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    return len;
}

}  // namespace

std::string one_line(std::string_view text, size_t max_chars) {
    std::string out;
    size_t chars = 0;
    for (size_t i = 0; i < text.size();) {
        if (chars == max_chars) {
            // Keep the width: the last three characters make room for the mark.
            size_t cut = out.size(), n = 0;
            while (cut > 0 && n < 3) {
                --cut;
                if ((static_cast<unsigned char>(out[cut]) & 0xc0) != 0x80) ++n;
            }
            return out.substr(0, max_chars >= 3 ? cut : 0) + "...";
        }
        uint32_t cp = 0;
        size_t len = decode(text, i, cp);
        if (len == 0) {
            out += '?';
            i += 1;
        } else if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) {
            out += ' ';  // C0, DEL and C1 (CSI is 0x9b) controls
            i += len;
        } else {
            out.append(text.substr(i, len));
            i += len;
        }
        ++chars;
    }
    return out;
}

std::string usd(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "$%.2f", round_cents(v));
    return buf;
}

double round_cents(double usd) {
    if (!std::isfinite(usd)) return usd;
    double r = std::round(usd * 100) / 100;
    return r == 0 ? 0.0 : r;  // no "-0" in the output
}

int worse(int a, int b) {
    auto rank = [](int rc) { return rc == cli::kFatal ? 2 : rc == cli::kUsage ? 1 : 0; };
    return rank(b) > rank(a) ? b : a;
}

std::string find_manifest(const std::string& dir, const std::string& name) {
    for (const char* ext : {".json", ".toml", ".txt"})
        if (exists(dir + "/" + name + ext)) return name + ext;
    return "";
}

}  // namespace vd::manage
