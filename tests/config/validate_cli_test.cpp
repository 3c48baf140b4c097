#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <filesystem>

#include <catch2/catch.hpp>

#include "tests/daemon/child.hpp"

#include "tests/config/corpus.hpp"
#include "tests/config/temp_dir.hpp"

namespace {

struct Run {
    int code = -1;
    std::string output;  // stdout and stderr
};

Run videodrop(const std::string& args) {
    Run r;
    auto run = vd::test::run_shell(std::string("'") + VD_BINARY + "' " + args + " 2>&1");
    r.code = run.code;
    r.output = std::move(run.output);
    return r;
}

std::string shell_quote(const std::string& s) {
    return "'" + s + "'";
}

const std::string kConfig = vd::test::kCorpus + "/videodrop.toml";

}  // namespace

TEST_CASE("validate of the good corpus (the config's inbox) exits 0", "[cli][validate]") {
    vd::test::corpus_config();
    Run r = videodrop("--config " + shell_quote(kConfig) + " validate");
    INFO(r.output);
    CHECK(r.code == 0);
    CHECK_THAT(r.output, Catch::Contains("ok   full (sora-2-pro, 12 s, 1792x1024, $3.60)"));
    CHECK_THAT(r.output, Catch::Contains("ok   cat-piano (sora-2, 4 s, 1280x720, $0.40)"));
    CHECK_THAT(r.output, Catch::Contains(" 0 invalid"));
}

TEST_CASE("validate of bad manifests exits 3 and names file and field", "[cli][validate]") {
    vd::test::corpus_config();
    std::string dir = vd::test::kCorpus + "/bad/";
    Run r = videodrop("--config " + shell_quote(kConfig) + " validate " +
                      shell_quote(dir + "bad_seconds.json") + " " +
                      shell_quote(dir + "image_not_supported--text.json") + " " +
                      shell_quote(vd::test::kCorpus + "/good/minimal.json"));
    INFO(r.output);
    CHECK(r.code == 3);
    CHECK_THAT(r.output, Catch::Contains(dir + "bad_seconds.json: seconds: 5 is not allowed for "
                                               "sora-2 (use 4, 8 or 12)"));
    CHECK_THAT(r.output, Catch::Contains(dir + "image_not_supported--text.json: image: fake.png is "
                                               "not a PNG, JPEG or WebP image"));
    CHECK_THAT(r.output, Catch::Contains("ok   minimal"));
    CHECK_THAT(r.output, Catch::Contains("3 manifests: 1 ok, 2 invalid"));
}

TEST_CASE("validate refuses an exact image of another size, as the daemon would",
          "[cli][validate]") {
    vd::test::corpus_config();
    vd::test::TempDir dir;
    std::filesystem::copy_file(vd::test::kCorpus + "/good/ref.png", dir.str() + "/ref.png");
    std::string exact = dir.write("exact.json", R"({"prompt": "a still", "image": "ref.png",
                                                    "image_fit": "exact"})");
    std::string cover = dir.write("cover.json", R"({"prompt": "a still", "image": "ref.png"})");
    Run r = videodrop("--config " + shell_quote(kConfig) + " validate " + shell_quote(exact) + " " +
                      shell_quote(cover));
    INFO(r.output);
    CHECK(r.code == 3);
    CHECK_THAT(r.output, Catch::Contains(exact + ": image: ref.png is 64x36 but the job's size is "
                                                 "1280x720 (resize it, or set image_fit"));
    CHECK_THAT(r.output, Catch::Contains("ok   cover"));
}

TEST_CASE("validate with a bad config exits 1 and names file, line and key", "[cli][validate]") {
    vd::test::TempDir dir;
    std::string cfg = dir.write("videodrop.toml", "[polling]\nmin_intervall = \"2s\"\n");
    Run r = videodrop("--config " + shell_quote(cfg) + " validate");
    CHECK(r.code == 1);
    CHECK_THAT(r.output, Catch::Contains(cfg + ":2: polling.min_intervall: unknown key (did you "
                                               "mean min_interval?)"));
    Run missing = videodrop("--config " + shell_quote(dir.str() + "/absent.toml") + " validate");
    CHECK(missing.code == 1);
    CHECK_THAT(missing.output, Catch::Contains("absent.toml: cannot read the config file"));
}

TEST_CASE("cost adds up manifests and shows today's spend against the caps", "[cli][cost]") {
    vd::test::TempDir dir;
    std::string cfg = dir.write("videodrop.toml", R"(
[paths]
inbox = "in"
state = "state"
[budget]
usd_per_day = 5
[providers.openai]
base_url = "https://api.openai.com/v1"
api_key_env = "OPENAI_API_KEY"
[providers.openai.models.sora-2]
seconds = [4, 8, 12]
sizes = ["1280x720"]
usd_per_second = 0.10
)");
    dir.write("in/a.json", R"({"prompt": "a", "seconds": 8})");
    dir.write("in/b.txt", "b");
    auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
    dir.write("state/ledger.jsonl", "{\"at\": " + std::to_string(now) +
                                        ", \"job\": \"x\", \"usd\": 4.5}\n" +
                                        "{\"at\": 86400000, \"job\": \"old\", \"usd\": 2.0}\n");
    Run r = videodrop("--config " + shell_quote(cfg) + " cost");
    INFO(r.output);
    CHECK(r.code == 0);
    CHECK_THAT(r.output, Catch::Contains("$0.80  a (sora-2, 8 s, 1280x720)"));
    CHECK_THAT(r.output, Catch::Contains("$0.40  b (sora-2, 4 s, 1280x720)"));
    CHECK_THAT(r.output, Catch::Contains("estimated    $1.20 for 2 manifests"));
    CHECK_THAT(r.output, Catch::Contains("spent today  $4.50 of $5.00 per day"));
    CHECK_THAT(r.output, Catch::Contains("spent total  $6.50 (no cap)"));
    CHECK_THAT(r.output, Catch::Contains("these would wait: budget:"));
}

TEST_CASE("global options work after the subcommand too", "[cli]") {
    vd::test::corpus_config();
    Run after = videodrop("validate --config " + shell_quote(kConfig));
    INFO(after.output);
    CHECK(after.code == 0);
    CHECK_THAT(after.output, Catch::Contains("ok   cat-piano"));
    Run level = videodrop("validate --log-level warn -c " + shell_quote(kConfig));
    CHECK(level.code == 0);
}

TEST_CASE("an unknown command or option is named, with the closest one", "[cli]") {
    Run word = videodrop("frobnicate");
    CHECK(word.code == 2);
    CHECK_THAT(word.output, Catch::Contains("unknown command \"frobnicate\""));
    Run typo = videodrop("valdate");
    CHECK(typo.code == 2);
    CHECK_THAT(typo.output,
               Catch::Contains("unknown command \"valdate\" (did you mean validate?)"));
    Run option = videodrop("--confg x.toml validate");
    CHECK(option.code == 2);
    CHECK_THAT(option.output, Catch::Contains("unknown option --confg (did you mean --config?)"));
    Run sub_option = videodrop("status --jsn");
    CHECK(sub_option.code == 2);
    CHECK_THAT(sub_option.output, Catch::Contains("(did you mean --json?)"));
}

TEST_CASE("the version flag names the libraries too", "[cli]") {
    Run v = videodrop("--version");
    CHECK(v.code == 0);
    CHECK_THAT(v.output, Catch::Contains("videodrop "));
    CHECK_THAT(v.output, Catch::Contains("libcurl "));
    CHECK_THAT(v.output, Catch::Contains("libuv "));
    CHECK_THAT(v.output, Catch::Contains("FFmpeg "));
}
