// `videodrop mock-server` as a user runs it: prints its URL, serves, exits 0 on SIGTERM.
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "mock/http_lib.hpp"

extern char** environ;

namespace {

struct Child {
    pid_t pid = -1;
    std::FILE* out = nullptr;
};

Child spawn_mock(std::vector<std::string> args) {
    args.insert(args.begin(), {VD_BINARY, "mock-server"});
    std::vector<char*> argv;
    for (auto& a : args)
        argv.push_back(a.data());
    argv.push_back(nullptr);
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&actions, fds[0]);
    Child c;
    REQUIRE(posix_spawn(&c.pid, VD_BINARY, &actions, nullptr, argv.data(), environ) == 0);
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    c.out = fdopen(fds[0], "r");
    return c;
}

int wait_exit(Child& c) {
    int status = 0;
    waitpid(c.pid, &status, 0);
    std::fclose(c.out);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

TEST_CASE("mock-server prints its URL, serves with its flags and exits 0 on SIGTERM",
          "[mock][cli]") {
    auto child = spawn_mock({"--listen", "127.0.0.1:0", "--keys", "sk-a,sk-b", "--queue-time", "0",
                             "--gen-time", "1m", "--dialect", "processing-url"});
    char line[256] = {};
    REQUIRE(std::fgets(line, sizeof line, child.out));
    std::string text = line;
    const std::string prefix = "mock: listening on http://127.0.0.1:";
    REQUIRE(text.rfind(prefix, 0) == 0);
    int port = std::stoi(text.substr(prefix.size()));
    CHECK(text.find("/v1\n") != std::string::npos);

    httplib::Client c("127.0.0.1", port);
    c.set_bearer_token_auth("sk-b");
    auto r = c.Post("/v1/videos", R"({"prompt":"x"})", "application/json");
    REQUIRE(r);
    CHECK(r->status == 200);
    auto id = nlohmann::json::parse(r->body)["id"].get<std::string>();
    CHECK(nlohmann::json::parse(c.Get("/v1/videos/" + id)->body)["status"] == "processing");
    c.set_bearer_token_auth("sk-c");
    CHECK(c.Get("/v1/models")->status == 401);

    kill(child.pid, SIGTERM);
    CHECK(wait_exit(child) == 0);
}

TEST_CASE("mock-server rejects a malformed duration or address as a usage error", "[mock][cli]") {
    for (auto args : {std::vector<std::string>{"--gen-time", "2 seconds"},
                      std::vector<std::string>{"--listen", "localhost"},
                      std::vector<std::string>{"--fail-rate", "1.5"},
                      std::vector<std::string>{"--dialect", "klingon"}}) {
        auto child = spawn_mock(args);
        INFO(args[0] << " " << args[1]);
        CHECK(wait_exit(child) == 2);
    }
}
