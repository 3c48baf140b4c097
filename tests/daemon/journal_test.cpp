// On a journal, each log line carries its priority: the daemon's stderr is a socket whose
// device and inode $JOURNAL_STREAM names, as systemd sets it up for a service. Here journald's
// own socket is absent, so the lines take the stderr way with <N> prefixes; the native way,
// with fields, is checked under a live systemd (scripts/check-units-live.sh). With
// log.format = "json" the same fields are keys of each line.
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "tests/config/temp_dir.hpp"
#include "tests/daemon/child.hpp"

extern char** environ;

namespace vd {

namespace {

// Runs `videodrop --config CFG once` with stderr on one end of a socket pair and
// JOURNAL_STREAM set to `stream` (or to that socket's own dev:ino when empty); returns stderr.
std::string run_on_socket(const std::string& cfg, std::string stream) {
    int fds[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
    struct stat st {};
    REQUIRE(::fstat(fds[1], &st) == 0);
    if (stream.empty()) stream = std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
    std::vector<std::string> env_text;
    for (char** e = environ; *e; ++e)
        if (std::string(*e).rfind("JOURNAL_STREAM=", 0) != 0) env_text.emplace_back(*e);
    env_text.push_back("JOURNAL_STREAM=" + stream);
    std::vector<char*> envp;
    for (auto& e : env_text)
        envp.push_back(e.data());
    envp.push_back(nullptr);
    std::vector<std::string> args{VD_BINARY, "--config", cfg, "once"};
    std::vector<char*> argv;
    for (auto& a : args)
        argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], STDERR_FILENO);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    pid_t pid = 0;
    REQUIRE(posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), envp.data()) == 0);
    posix_spawn_file_actions_destroy(&fa);
    ::close(fds[1]);
    std::string out;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fds[0], buf, sizeof buf)) > 0)
        out.append(buf, static_cast<size_t>(n));
    ::close(fds[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    return out;
}

std::string setup(const test::TempDir& dir) {
    const std::string root = dir.str();
    dir.write("inbox/good.json", R"({"prompt": "a calm lake"})");
    dir.write("inbox/bad.json", R"({"prompt": 5})");
    return dir.write("videodrop.toml", "[paths]\ninbox = \"" + root + "/inbox\"\noutbox = \"" +
                                           root + "/outbox\"\nfailed = \"" + root +
                                           "/failed\"\nstate = \"" + root +
                                           "/state\"\n[defaults]\nprovider = \"local\"\n"
                                           "[providers.local]\nprotocol = \"mock\"\n"
                                           "[providers.local.models.sora-2]\nseconds = [4]\n"
                                           "sizes = [\"1280x720\"]\nusd_per_second = 0.1\n");
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
        out.push_back(line);
    return out;
}

}  // namespace

TEST_CASE("on a journal, each line starts with its priority", "[journal]") {
    test::TempDir dir;
    auto out = run_on_socket(setup(dir), "");
    INFO(out);
    bool warning = false, info = false;
    for (const auto& line : lines_of(out)) {
        if (line.find("videodrop: ") == 0) continue;  // the summary of `once`, not a log line
        REQUIRE(line.size() > 3);
        CHECK(line[0] == '<');
        CHECK(line[2] == '>');
        if (line.find("job=bad failed at validate") != std::string::npos) {
            CHECK(line.rfind("<4>warning ", 0) == 0);
            warning = true;
        }
        if (line.find("job=good delivered") != std::string::npos) {
            CHECK(line.rfind("<6>info ", 0) == 0);
            info = true;
        }
    }
    CHECK(warning);
    CHECK(info);
}

TEST_CASE("off the journal, lines carry their time and no priority", "[journal]") {
    test::TempDir dir;
    auto out = run_on_socket(setup(dir), "1:1");  // names some other stream
    INFO(out);
    bool seen = false;
    for (const auto& line : lines_of(out)) {
        if (line.find("job=good delivered") == std::string::npos) continue;
        CHECK(line.rfind("20", 0) == 0);  // "2026-12-02 10:00:00.000 info ..."
        seen = true;
    }
    CHECK(seen);
}

TEST_CASE("json lines carry the job, provider, video id and request id as keys", "[journal]") {
    test::TempDir dir;
    auto cfg = setup(dir);
    std::ifstream in(cfg);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    dir.write("videodrop.toml", "[log]\nformat = \"json\"\n" + text);
    auto run = test::run_shell(std::string("'") + VD_BINARY + "' --config '" + cfg + "' once 2>&1");
    INFO(run.output);
    bool delivered = false, rejected = false;
    for (const auto& line : lines_of(run.output)) {
        if (line.find("videodrop: ") == 0) continue;
        auto j = nlohmann::json::parse(line);  // every log line one JSON object
        auto message = j.at("message").get<std::string>();
        if (message.find("job=good delivered") != std::string::npos) {
            CHECK(j.at("job") == "good");
            CHECK(j.at("provider") == "local");
            CHECK(j.at("video_id").get<std::string>().rfind("video_", 0) == 0);
            CHECK(j.at("request_id").get<std::string>().rfind("req_", 0) == 0);
            delivered = true;
        }
        if (message.find("job=bad failed at validate") != std::string::npos) {
            CHECK(j.at("level") == "warning");
            CHECK(j.at("job") == "bad");
            CHECK_FALSE(j.contains("video_id"));  // never created: no empty keys either
            rejected = true;
        }
        if (message.find("job=") == std::string::npos) CHECK_FALSE(j.contains("job"));
    }
    CHECK(delivered);
    CHECK(rejected);
}

}  // namespace vd
