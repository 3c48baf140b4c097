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
using fs::exists;
using nlohmann::json;

bool daemon_running(const std::string& state_dir) {
    // Never create the lock file: that is the store's.
    int fd = ::open((state_dir + "/lock").c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    bool held = ::flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK;
    ::close(fd);  // releases our lock, if we got it
    return held;
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
