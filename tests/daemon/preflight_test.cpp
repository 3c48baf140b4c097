// The folders are checked before any work: run, once and validate refuse a setup that could
// not claim or write, naming the folder, the [paths] key and the fix.
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include <filesystem>

#include <catch2/catch.hpp>

#include "daemon/preflight.hpp"
#include "tests/config/temp_dir.hpp"
#include "tests/daemon/child.hpp"

namespace vd {

namespace {

Paths under(const std::string& root) {
    Paths p;
    p.inbox = root + "/inbox";
    p.outbox = root + "/outbox";
    p.failed = root + "/failed";
    p.state = root + "/state";
    return p;
}

std::string config_for(const test::TempDir& dir, const Paths& p) {
    return dir.write("videodrop.toml", "[paths]\ninbox = \"" + p.inbox + "\"\noutbox = \"" +
                                           p.outbox + "\"\nfailed = \"" + p.failed +
                                           "\"\nstate = \"" + p.state +
                                           "\"\n[providers.local]\nprotocol = \"mock\"\n"
                                           "[providers.local.models.sora-2]\nseconds = [4]\n"
                                           "sizes = [\"1280x720\"]\nusd_per_second = 0.1\n"
                                           "[defaults]\nprovider = \"local\"\n");
}

}  // namespace

TEST_CASE("folders that can be made and written pass", "[preflight]") {
    test::TempDir dir;
    CHECK(preflight(under(dir.str())).empty());  // none made yet: judged by their parent
}

TEST_CASE("an inbox and a state folder on two filesystems are refused", "[preflight]") {
    struct stat shm {
    }, tmp{};
    REQUIRE(::stat("/dev/shm", &shm) == 0);  // tmpfs on Debian, apart from the temp folder
    test::TempDir dir;
    REQUIRE(::stat(dir.str().c_str(), &tmp) == 0);
    REQUIRE(shm.st_dev != tmp.st_dev);
    const std::string shm_dir = "/dev/shm/vd-preflight-" + std::to_string(::getpid());
    std::filesystem::create_directories(shm_dir);
    Paths p = under(dir.str());
    p.state = shm_dir + "/state";
    auto problems = preflight(p);
    REQUIRE(problems.size() == 1);
    CHECK(problems[0].find("[paths] inbox " + p.inbox + " and state " + p.state) == 0);
    CHECK(problems[0].find("put both on one filesystem") != std::string::npos);

    // And `once` says so instead of claiming nothing and exiting 0.
    auto cfg = config_for(dir, p);
    dir.write("inbox/a.json", R"({"prompt": "a calm lake"})");
    auto run = test::run_shell(std::string("'") + VD_BINARY + "' --config '" + cfg + "' once 2>&1");
    CHECK(run.code == 1);
    CHECK(run.output.find("different filesystems") != std::string::npos);
    CHECK(std::filesystem::exists(p.inbox + "/a.json"));  // nothing claimed
    std::filesystem::remove_all(shm_dir);
}

// Under systemd each ReadWritePaths= and StateDirectory= is a bind mount: one filesystem, two
// mounts, and rename(2) between them fails with EXDEV. Made here for real, as root, in a mount
// namespace of a child process so that nothing outside sees it.
TEST_CASE("an inbox and a state folder on two mounts of one filesystem are refused",
          "[preflight]") {
    REQUIRE(::geteuid() == 0);  // a bind mount needs root (make test runs as root)
    test::TempDir dir;
    Paths p = under(dir.str());
    std::filesystem::create_directories(p.inbox);
    std::filesystem::create_directories(p.state);
    std::filesystem::create_directories(dir.str() + "/state-source");
    dir.write("inbox/a.json", R"({"prompt": "a calm lake"})");
    pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        if (::unshare(CLONE_NEWNS) != 0 ||
            ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
            ::mount((dir.str() + "/state-source").c_str(), p.state.c_str(), nullptr, MS_BIND,
                    nullptr) != 0)
            ::_exit(10);
        // The fault itself: the claim's rename cannot cross the mounts.
        std::string to = p.state + "/a.json";
        if (::rename((p.inbox + "/a.json").c_str(), to.c_str()) == 0 || errno != EXDEV) ::_exit(11);
        auto problems = preflight(p);
        if (problems.size() != 1) ::_exit(12);
        if (problems[0].find("[paths] inbox " + p.inbox + " and state " + p.state +
                             " are on different mounts") != 0 ||
            problems[0].find("ReadWritePaths=") == std::string::npos)
            ::_exit(13);
        ::_exit(0);
    }
    int status = 0;
    ::waitpid(child, &status, 0);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);  // 10 no mount, 11 rename crossed, 12/13 preflight missed it
    CHECK(preflight(p).empty());      // outside that namespace: one mount, nothing to say
}

TEST_CASE("a file where a folder should be is named", "[preflight]") {
    test::TempDir dir;
    Paths p = under(dir.str());
    dir.write("outbox", "not a folder");
    auto problems = preflight(p);
    REQUIRE(problems.size() == 1);
    CHECK(problems[0].find("[paths] outbox") == 0);
    CHECK(problems[0].find("is not a folder") != std::string::npos);
}

TEST_CASE("a folder videodrop cannot write is named with the fix", "[preflight]") {
    test::TempDir dir;
    Paths p = under(dir.str());
    std::filesystem::create_directories(p.inbox);
    std::filesystem::create_directories(p.state);
    auto cfg = config_for(dir, p);
    ::chmod(dir.str().c_str(), 0755);
    ::chmod(cfg.c_str(), 0644);
    ::chmod(p.inbox.c_str(), 0555);
    ::chmod(p.state.c_str(), 0777);
    // As another user (root may write anywhere): nobody, through setpriv, when we are root.
    std::string as = ::geteuid() == 0 ? "setpriv --reuid=65534 --regid=65534 --clear-groups " : "";
    auto run = test::run_shell(as + "'" + VD_BINARY + "' --config '" + cfg + "' validate 2>&1");
    INFO(run.output);
    CHECK(run.code == 1);
    CHECK(run.output.find("[paths] inbox " + p.inbox + " is not writable by uid") !=
          std::string::npos);
    CHECK(run.output.find("chmod g+rwx") != std::string::npos);
    ::chmod(p.inbox.c_str(), 0755);
}

}  // namespace vd
