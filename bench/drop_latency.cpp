// Drop-to-create latency: drops N manifests into a running daemon's inbox, one every GAP_MS, and
// measures from each drop to its create request arriving at the mock (the mock's request log,
// wall clock in microseconds; both processes are on this machine).
// Usage: bench_drop_latency INBOX MOCK_LOG N rename|copy [GAP_MS]
//   rename: written as a dotfile, then rename(2)d in (the drop is the rename)
//   copy:   written in place and closed (the drop is the close)
// Prints: "MODE N p50_ms p99_ms max_ms" (or exits 1 when creates are missing after 120 s).
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

namespace {

int64_t wall_us() {
    using namespace std::chrono;
    return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}

bool write_all(const std::string& path, const std::string& text) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return false;
    bool ok = ::write(fd, text.data(), text.size()) == ssize_t(text.size());
    return ::close(fd) == 0 && ok;
}

// Create arrival times by prompt, from the mock's JSON-lines log.
std::map<std::string, int64_t> creates(const std::string& log) {
    std::map<std::string, int64_t> at;
    std::ifstream in(log);
    for (std::string line; std::getline(in, line);) {
        auto j = nlohmann::json::parse(line, nullptr, false);
        if (j.is_discarded() || j.value("method", "") != "POST" ||
            j.value("path", "") != "/v1/videos")
            continue;
        auto prompt = j["fields"].value("prompt", "");
        if (!at.count(prompt)) at[prompt] = j.value("at_us", int64_t{0});
    }
    return at;
}

double percentile(std::vector<double> v, double p) {
    std::sort(v.begin(), v.end());
    size_t i = std::min(v.size() - 1, size_t(p * double(v.size() - 1) + 0.5));
    return v[i];
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 5) {
        std::fprintf(stderr, "usage: %s INBOX MOCK_LOG N rename|copy [GAP_MS]\n", argv[0]);
        return 2;
    }
    std::string inbox = argv[1], log = argv[2], mode = argv[4];
    int n = std::atoi(argv[3]);
    int gap_ms = argc > 5 ? std::atoi(argv[5]) : 10;
    std::string tag = std::to_string(wall_us());
    std::vector<std::pair<std::string, int64_t>> dropped;  // prompt, drop time
    for (int i = 0; i < n; ++i) {
        std::string name = "drop-" + mode + "-" + tag + "-" + std::to_string(i);
        std::string prompt = "latency " + name;
        std::string text = R"({"prompt": ")" + prompt + "\"}\n";
        std::string final_path = inbox + "/" + name + ".json";
        if (mode == "rename") {
            std::string tmp = inbox + "/." + name + ".json.tmp";
            if (!write_all(tmp, text)) return 1;
            int64_t t = wall_us();
            if (::rename(tmp.c_str(), final_path.c_str()) != 0) return 1;
            dropped.emplace_back(prompt, t);
        } else {
            if (!write_all(final_path, text)) return 1;
            dropped.emplace_back(prompt, wall_us());
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(gap_ms));
    }
    std::vector<double> ms;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (true) {
        auto at = creates(log);
        ms.clear();
        for (const auto& [prompt, t] : dropped)
            if (auto it = at.find(prompt); it != at.end())
                ms.push_back(double(it->second - t) / 1000);
        if (ms.size() == dropped.size()) break;
        if (std::chrono::steady_clock::now() > deadline) {
            std::fprintf(stderr, "only %zu of %d creates arrived\n", ms.size(), n);
            return 1;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    std::printf("%s %d %.2f %.2f %.2f\n", mode.c_str(), n, percentile(ms, 0.5),
                percentile(ms, 0.99), *std::max_element(ms.begin(), ms.end()));
    return 0;
}
