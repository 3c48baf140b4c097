#include "daemon/finished_index.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string_view>

#include <nlohmann/json.hpp>

#include "daemon/fsutil.hpp"

namespace vd::finished_index {

namespace {
constexpr size_t kMaxBytes = 256u << 20;  // ~2.5 million lines
}  // namespace

tl::expected<void, std::string> append(const std::string& state_dir, const Job& job) {
    if (!is_terminal(job.state)) return {};
    nlohmann::json j = {{"id", job.id}, {"seq", job.seq}, {"state", to_string(job.state)}};
    if (!job.parent.empty()) j["parent"] = job.parent;
    const std::string line = j.dump() + "\n";
    const std::string path = state_dir + "/" + kFile;
    int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) return tl::unexpected("cannot open " + path + ": " + std::strerror(errno));
    // One write of a short line: O_APPEND keeps it whole against other appends. A short write
    // (a full disk) leaves a torn line, which the reader skips.
    ssize_t n = ::write(fd, line.data(), line.size());
    int err = n < 0 ? errno : 0;
    ::close(fd);
    if (n != static_cast<ssize_t>(line.size()))
        return tl::unexpected("cannot append to " + path + ": " +
                              (err ? std::strerror(err) : "short write"));
    return {};
}

std::unordered_map<std::string, Outline> read(const std::string& state_dir) {
    std::unordered_map<std::string, Outline> out;
    auto text = fs::read_file(state_dir + "/" + kFile, kMaxBytes);
    if (!text) return out;
    std::string_view rest = *text;
    while (!rest.empty()) {
        size_t end = rest.find('\n');
        std::string_view line = rest.substr(0, end);
        rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end + 1);
        auto j = nlohmann::json::parse(line, nullptr, false);
        if (!j.is_object()) continue;
        auto id = j.find("id");
        auto seq = j.find("seq");
        auto state = j.find("state");
        if (id == j.end() || !id->is_string() || seq == j.end() || !seq->is_number_unsigned() ||
            state == j.end() || !state->is_string())
            continue;
        auto s = parse_state(state->get<std::string>());
        if (!s || !is_terminal(*s)) continue;
        out[id->get<std::string>()] = {seq->get<uint64_t>(), *s, j.value("parent", "")};
    }
    return out;
}

}  // namespace vd::finished_index
