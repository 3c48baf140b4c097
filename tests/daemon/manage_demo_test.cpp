// `videodrop demo` run twice in the same folder: the table names the files really written, which
// the second time carry a -2 suffix (failed/broken-2.error.json, not failed/broken.error.json).
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <catch2/catch.hpp>

#include "tests/daemon/child.hpp"

#include "tests/config/temp_dir.hpp"

namespace {

namespace sfs = std::filesystem;

struct DemoRun {
    int code = -1;
    std::string out;  // stdout only: the daemon's log lines on stderr name the files too
};

DemoRun demo(const std::string& dir, const std::string& log) {
    DemoRun r;
    auto run =
        vd::test::run_shell(std::string("'") + VD_BINARY + "' demo '" + dir + "' 2>'" + log + "'");
    r.code = run.code;
    r.out = std::move(run.output);
    return r;
}

// The table row of job NAME (the line starting with "NAME ").
std::string row(const std::string& out, const std::string& name) {
    std::istringstream in(out);
    for (std::string line; std::getline(in, line);)
        if (line.rfind(name + " ", 0) == 0) return line;
    return "";
}

}  // namespace

TEST_CASE("demo run twice in one folder prints the failed files it really wrote",
          "[manage][demo]") {
    vd::test::TempDir tmp;
    const std::string dir = tmp.str() + "/demo";
    const std::string log = tmp.str() + "/demo.log";
    const std::string failed = dir + "/failed";

    DemoRun first = demo(dir, log);
    INFO(first.out);
    REQUIRE(first.code == 0);
    CHECK_THAT(row(first.out, "broken"), Catch::Contains(failed + "/broken.error.json"));
    CHECK_THAT(row(first.out, "forbidden-scene"),
               Catch::Contains(failed + "/forbidden-scene.error.json"));

    DemoRun second = demo(dir, log);
    INFO(second.out);
    REQUIRE(second.code == 0);
    const std::string broken = row(second.out, "broken");
    const std::string forbidden = row(second.out, "forbidden-scene");
    CHECK_THAT(broken, Catch::Contains(failed + "/broken-2.error.json"));
    CHECK_THAT(forbidden, Catch::Contains(failed + "/forbidden-scene-2.error.json"));
    CHECK(sfs::is_regular_file(failed + "/broken-2.error.json"));
    CHECK(sfs::is_regular_file(failed + "/forbidden-scene-2.error.json"));
    // Delivered rows were right already: the outbox names come from the job record.
    CHECK_THAT(row(second.out, "cat-piano"), Catch::Contains("/cat-piano-2.mp4"));
}
