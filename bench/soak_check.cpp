// Checks what a soak run (bench/soak.sh) left behind against the promises:
//   - every manifest ended exactly once, in outbox/ (sidecar) or failed/ (error file), and
//     nothing is left in the inbox or claimed;
//   - every published MP4 matches its sidecar's sha256 and decodes cleanly with
//     `ffmpeg -v error -xerror -i F -f null -`;
//   - the mock's request log shows no prompt created twice and no 60 s window with more creates
//     than the RPM;
//   - the key appears in no file under the spool (outbox, failed, state) nor in the daemon's log.
// Usage: bench_soak_check SPOOL MOCK_LOG RPM JOBS KEY
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "daemon/sha256.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

int problems = 0;

void problem(const std::string& what) {
    if (++problems <= 30) std::printf("PROBLEM: %s\n", what.c_str());
}

std::string read(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

// A string field, or "" when it is absent or not a string.
std::string str(const json& j, const char* key) {
    if (!j.is_object() || !j.contains(key) || !j[key].is_string()) return {};
    return j[key].get<std::string>();
}

std::string stem_of(const std::string& f, const std::string& suffix) {
    return f.substr(0, f.size() - suffix.size());
}

bool decodes_cleanly(const fs::path& mp4) {
    std::string cmd = "ffmpeg -nostdin -v error -xerror -i '" + mp4.string() + "' -f null - 2>&1";
    FILE* p = ::popen(cmd.c_str(), "r");
    if (!p) return false;
    char buf[512];
    std::string out;
    while (std::fgets(buf, sizeof buf, p))
        out += buf;
    int status = ::pclose(p);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 && out.empty();
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 6) {
        std::fprintf(stderr, "usage: %s SPOOL MOCK_LOG RPM JOBS KEY\n", argv[0]);
        return 2;
    }
    fs::path spool = argv[1];
    fs::path log = argv[2];
    int rpm = std::atoi(argv[3]);
    int jobs = std::atoi(argv[4]);
    std::string key = argv[5];

    // 1. Every manifest once.
    std::map<std::string, int> ended;
    int delivered = 0, failed = 0;
    std::map<std::string, int> failure_codes;
    for (const auto& e : fs::directory_iterator(spool / "outbox")) {
        std::string f = e.path().filename().string();
        if (!f.ends_with(".json")) continue;
        auto sidecar = json::parse(read(e.path()));
        std::string name = str(sidecar, "name");
        std::string renamed = str(sidecar, "renamed_from");
        ++ended[renamed.empty() ? name : renamed];
        ++delivered;
        fs::path mp4 = e.path();
        mp4.replace_extension(".mp4");
        auto sha = vd::sha256_file(mp4.string());
        if (!sha || *sha != str(sidecar["file"], "sha256"))
            problem(mp4.string() + ": sha256 differs from its sidecar");
        if (!decodes_cleanly(mp4)) problem(mp4.string() + ": ffmpeg reports decode errors");
    }
    for (const auto& e : fs::directory_iterator(spool / "failed")) {
        std::string f = e.path().filename().string();
        if (!f.ends_with(".error.json")) continue;
        auto error = json::parse(read(e.path()));
        std::string name = str(error, "name");
        ++ended[name.empty() ? stem_of(f, ".error.json") : name];
        ++failed;
        ++failure_codes[str(error["error"], "code")];
    }
    for (int i = 0; i < jobs; ++i) {
        std::string name = "soak-" + std::to_string(i);
        if (ended[name] != 1) problem(name + " ended " + std::to_string(ended[name]) + " times");
    }
    for (const auto& dir : {spool / "inbox", spool / "state" / "claimed"})
        for (const auto& e : fs::directory_iterator(dir))
            if (e.path().filename().string()[0] != '.')
                problem("left behind: " + e.path().string());

    // 2. The provider's view: creates and faults.
    std::map<std::string, int> created;
    std::vector<int64_t> creates;
    std::map<std::string, int> faults;
    std::istringstream lines(read(log));
    for (std::string line; std::getline(lines, line);) {
        if (line.empty()) continue;
        auto r = json::parse(line, nullptr, false);
        if (r.is_discarded()) continue;
        std::string fault = str(r, "fault");
        if (!fault.empty()) ++faults[fault];
        if (str(r, "method") != "POST" || str(r, "path") != "/v1/videos") continue;
        if (str(r, "video_id").empty()) continue;
        creates.push_back(r.value("at_ms", int64_t{0}));
        ++created[str(r["fields"], "prompt")];
    }
    int duplicates = 0;
    for (const auto& [prompt, n] : created)
        if (n > 1) {
            duplicates += n - 1;
            problem("prompt created " + std::to_string(n) + " times: " + prompt);
        }
    std::sort(creates.begin(), creates.end());
    size_t worst = 0;
    for (size_t i = 0, j = 0; i < creates.size(); ++i) {
        while (j < creates.size() && creates[j] < creates[i] + 60'000)
            ++j;
        worst = std::max(worst, j - i);
    }
    if (static_cast<int>(worst) > rpm)
        problem("a 60 s window holds " + std::to_string(worst) + " creates, RPM " +
                std::to_string(rpm));

    // 3. No key anywhere.
    int files = 0;
    for (const auto& e : fs::recursive_directory_iterator(spool)) {
        if (!e.is_regular_file() || e.path().extension() == ".mp4") continue;
        ++files;
        if (read(e.path()).find(key) != std::string::npos)
            problem("the key appears in " + e.path().string());
    }

    std::printf("soak: %d manifests, %d delivered, %d failed", jobs, delivered, failed);
    for (const auto& [code, n] : failure_codes)
        std::printf(" [%s %d]", code.c_str(), n);
    std::printf(
        "\nsoak: %zu videos created for %zu prompts, %d duplicates; worst 60 s window %zu "
        "creates (RPM %d)\n",
        creates.size(), created.size(), duplicates, worst, rpm);
    std::printf("soak: faults injected:");
    for (const auto& [f, n] : faults)
        std::printf(" %s %d", f.c_str(), n);
    std::printf("\nsoak: %d files searched for the key; %d problem(s)\n", files, problems);
    return problems == 0 ? 0 : 1;
}
