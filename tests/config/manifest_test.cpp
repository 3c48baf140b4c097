#include <filesystem>

#include <catch2/catch.hpp>

#include "config/manifest.hpp"
#include "daemon/sidecar.hpp"
#include "tests/config/corpus.hpp"
#include "tests/config/temp_dir.hpp"

using namespace vd;
namespace fs = std::filesystem;

namespace {

JobSpec good(const std::string& name) {
    static const Config cfg = test::corpus_config();
    std::string dir = test::kCorpus + "/good";
    auto job = read_manifest(dir + "/" + name, dir, cfg, remix_lookup(cfg.paths.outbox));
    if (!job) FAIL(job.error().front().format());
    return *job;
}

std::vector<ManifestProblem> bad(const std::string& name) {
    static const Config cfg = test::corpus_config();
    std::string dir = test::kCorpus + "/bad";
    auto job = read_manifest(dir + "/" + name, dir, cfg, remix_lookup(cfg.paths.outbox));
    REQUIRE_FALSE(job);
    return job.error();
}

std::string canonical(const std::string& rel) {
    return fs::canonical(test::kCorpus + "/" + rel).string();
}

}  // namespace

TEST_CASE("a minimal JSON manifest gets every default", "[manifest]") {
    JobSpec job = good("minimal.json");
    CHECK(job.name == "minimal");
    CHECK(job.manifest_file == "minimal.json");
    CHECK(job.provider == "openai");
    CHECK(job.model == "sora-2");
    CHECK(job.seconds == 4);
    CHECK(job.size == Size{1280, 720});
    CHECK(job.prompt == "A cat plays a grand piano in a sunlit living room.");
    CHECK(job.image.empty());
    CHECK(job.image_fit == "cover");
    CHECK(job.remix_of.empty());
    CHECK(job.priority == 0);
    CHECK(job.variants.empty());
    CHECK(job.meta == nlohmann::json::object());
    CHECK(job.image_sha256.empty());
    CHECK(job.companion_files.empty());
    CHECK(job.manifest == nlohmann::json{{"prompt", job.prompt},
                                         {"provider", "openai"},
                                         {"model", "sora-2"},
                                         {"seconds", 4},
                                         {"size", "1280x720"},
                                         {"priority", 0},
                                         {"variants", nlohmann::json::array()},
                                         {"image_fit", "cover"},
                                         {"meta", nlohmann::json::object()}});
}

TEST_CASE("a JSON manifest with every field is read as written", "[manifest]") {
    JobSpec job = good("full.json");
    CHECK(job.model == "sora-2-pro");
    CHECK(job.seconds == 12);
    CHECK(job.size == Size{1792, 1024});
    CHECK(job.image == canonical("good/ref.png"));
    CHECK(job.image_original == "ref.png");
    CHECK(job.image_fit == "contain");
    CHECK(job.priority == 5);
    CHECK(job.variants == std::vector<std::string>{"thumbnail", "spritesheet"});
    CHECK(job.meta == nlohmann::json{{"project", "glacier"}, {"take", 3}});
    CHECK(job.manifest["image"] == "ref.png");
    CHECK(job.manifest["size"] == "1792x1024");
}

TEST_CASE("a TOML manifest reads the same fields, multi-line prompt trimmed", "[manifest]") {
    JobSpec job = good("full-toml.toml");
    CHECK(job.prompt ==
          "A slow pan across a neon-lit alley in the rain,\nreflections in the puddles.");
    CHECK(job.seconds == 8);
    CHECK(job.size == Size{720, 1280});
    CHECK(job.image == canonical("good/ref.jpg"));
    CHECK(job.image_fit == "contain");
    CHECK(job.priority == -2);
    CHECK(job.meta == nlohmann::json{{"client", "acme"}, {"tags", {"night", "rain"}}});
}

TEST_CASE("a .txt is the trimmed prompt and takes the same-stem image beside it", "[manifest]") {
    JobSpec job = good("cat-piano.txt");
    CHECK(job.prompt == "The cat from the reference photo starts playing a jazz tune.");
    CHECK(job.image == canonical("good/cat-piano.png"));
    CHECK(job.image_original == "cat-piano.png");
    CHECK(job.companion_files == std::vector<std::string>{"cat-piano.png"});
    CHECK(job.manifest["image"] == "cat-piano.png");
    CHECK(good("beach.txt").image_original == "beach.jpg");
    CHECK(good("forest.txt").image_original == "forest.webp");
    CHECK(good("plain.txt").companion_files.empty());
}

TEST_CASE("aspect picks the model's size of that orientation closest in ratio", "[manifest]") {
    CHECK(good("aspect-portrait.json").size == Size{720, 1280});
    CHECK(good("aspect-landscape.toml").size == Size{1280, 720});
    CHECK(good("aspect-square.json").size == Size{1024, 1024});
    CHECK(good("aspect-nearest.toml").size == Size{960, 720});
    CHECK(good("aspect-portrait.json").manifest["aspect"] == "9:16");
}

TEST_CASE("meta is copied verbatim, nested and all", "[manifest]") {
    JobSpec job = good("meta-nested.json");
    CHECK(job.meta["order"]["lines"][1]["qty"].is_null());
    CHECK(job.meta["note"] == "ünïcödé ✓");
    CHECK(job.meta["prompt"] == "meta may hold any key, even field names");
    JobSpec toml = good("meta-nested-toml.toml");
    CHECK(toml.meta["shot_on"] == "2026-11-22");
    CHECK(toml.meta["crew"][1]["role"] == "dop");
    CHECK(toml.meta["deep"]["deeper"]["level"] == 3);
}

TEST_CASE("images may be in a subfolder or behind a symlink that stays inside", "[manifest]") {
    CHECK(good("image-subdir.json").image == canonical("good/refs/frame.png"));
    JobSpec linked = good("image-symlink-inside.json");
    CHECK(linked.image == canonical("good/ref.png"));
    CHECK(linked.image_original == "linked.png");
}

TEST_CASE("remix_of names a delivered job's video or is the provider's id", "[manifest]") {
    CHECK(good("remix-by-name.json").remix_of == "video_68d2f1c0a9e4");
    CHECK(good("remix-by-name.json").manifest["remix_of"] == "delivered");
    CHECK(good("remix-by-id.json").remix_of == "video_0123:abc/+=");
}

TEST_CASE("a remix of a delivered job keeps the source's seconds and size", "[manifest]") {
    JobSpec remix = good("remix-by-name.json");
    CHECK(remix.seconds == 12);
    CHECK(remix.size == Size{720, 1280});
}

TEST_CASE("variants are deduplicated and other providers use their own table", "[manifest]") {
    CHECK(good("variants.toml").variants == std::vector<std::string>{"spritesheet", "thumbnail"});
    JobSpec other = good("other-provider.toml");
    CHECK(other.provider == "gateway");
    CHECK(other.model == "wan-2.2");
    CHECK(other.seconds == 10);
}

TEST_CASE("a BOM at the start of a file is ignored", "[manifest]") {
    CHECK(good("bom.json").prompt == "A file saved with a UTF-8 byte order mark still reads.");
}

TEST_CASE("all problems of a manifest are reported, each naming file and field", "[manifest]") {
    auto problems = bad("unknown_key--and-more.json");
    REQUIRE(problems.size() == 3);
    CHECK(problems[0].code == "unknown_key");
    CHECK(problems[0].field == "promt");
    CHECK(problems[0].message == "unknown key (did you mean prompt?)");
    CHECK(problems[1].code == "bad_seconds");
    CHECK(problems[1].format() == test::kCorpus +
                                      "/bad/unknown_key--and-more.json: seconds: 5 is not "
                                      "allowed for sora-2 (use 4, 8 or 12)");
    CHECK(problems[2].code == "bad_variant");
}

TEST_CASE("messages list the allowed values and say what to do", "[manifest]") {
    CHECK(bad("unknown_model.toml").front().message ==
          "\"sora-3\" is not a model of provider openai (use sora-2 or sora-2-pro)");
    CHECK(bad("unknown_provider.json").front().message ==
          "\"runway\" is not a configured provider (use gateway, openai or studio)");
    CHECK(bad("bad_size.json").front().message ==
          "640x480 is not allowed for sora-2 (use 720x1280 or 1280x720)");
    CHECK(bad("bad_seconds--default.json").front().message ==
          "the default 4 (defaults.seconds) is not allowed for wan-2.2; set seconds (use 5 or 10)");
    CHECK(bad("wrong_type--seconds-string.json").front().message ==
          "expected an integer such as 8 (without quotes), got a string");
    CHECK(bad("bad_aspect--orientation.json").front().message ==
          "sora-2 has no square size for 1:1 (its sizes: 720x1280 or 1280x720)");
    CHECK(bad("bad name!.json").front().code == "bad_name");
}

TEST_CASE("storyboard shots are checked; each shot's seconds must be the model's", "[manifest]") {
    auto problems = bad("unknown_key--in-shot.toml");
    REQUIRE(problems.size() == 1);
    CHECK(problems[0].field == "shots[0].duration");
    CHECK(problems[0].code == "unknown_key");
    auto shot = bad("bad_seconds--shot.toml");
    REQUIRE(shot.size() == 1);
    CHECK(shot[0].field == "shots[1].seconds");
    CHECK(shot[0].message == "5 is not allowed for sora-2 (use 4, 8 or 12)");
    auto one = bad("bad_shots--one-shot.toml");
    REQUIRE(one.size() == 2);
    CHECK(one[0].message ==
          "has 1 shot(s); a storyboard has 2 to 10 (for one shot, give prompt and seconds "
          "instead)");
    CHECK(one[1].message ==
          "the shots add up to 4s, which sora-2 does not make (make them add "
          "up to 10 or 15)");
    CHECK(bad("bad_continuity.toml").front().message ==
          "is \"first-frame\"; use \"last-frame\" (each shot starts from the last frame of the "
          "one before) or \"none\"");
    CHECK(bad("unsupported--continuity-chat.toml").front().field == "continuity");
}

TEST_CASE("a storyboard at an openai-videos provider is one job of its shots", "[manifest]") {
    JobSpec job = good("storyboard-shots.toml");
    CHECK(job.provider == "openai");
    CHECK(job.seconds == 16);
    REQUIRE(job.shots.size() == 3);
    CHECK(job.shots[1].seconds == 8);
    CHECK(job.shots[1].prompt == "A dog runs in.");
    CHECK(job.continuity);
    CHECK(job.prompt == "[4.0s]A door opens. [8.0s]A dog runs in. [4.0s]The door closes.");
    CHECK(job.manifest["continuity"] == "last-frame");
}

TEST_CASE("a storyboard for a chat-sse provider is one job in the server's shot syntax",
          "[manifest]") {
    JobSpec job = good("storyboard.toml");
    CHECK(job.provider == "studio");
    CHECK(job.seconds == 10);
    CHECK(job.size == Size{720, 1280});
    CHECK(job.prompt ==
          "[5.0s]A door opens onto a snowy street. [5.0s]A dog runs in, shaking off snow.");
    REQUIRE(job.manifest.contains("shots"));
    CHECK(job.manifest["shots"].size() == 2);
    CHECK(job.shots.empty());  // the server joins them
    CHECK(job.manifest["shots"][1]["prompt"] == "A dog runs in, shaking off snow.");

    test::TempDir dir;
    Config cfg = test::corpus_config();
    auto problems_of = [&](const std::string& text) {
        auto j = read_manifest(dir.write("s.json", text), dir.str(), cfg);
        REQUIRE_FALSE(j);
        std::vector<std::string> out;
        for (const auto& p : j.error())
            out.push_back(p.field + ": " + p.message);
        return out;
    };
    CHECK(problems_of(R"({"provider": "studio", "prompt": "x", "seconds": 10,
        "shots": [{"seconds": 5, "prompt": "a"}, {"seconds": 5, "prompt": "b"}]})") ==
          std::vector<std::string>{
              "prompt: cannot be given with shots (a storyboard's prompts and seconds are its "
              "shots'; remove prompt)",
              "seconds: cannot be given with shots (a storyboard's prompts and seconds are its "
              "shots'; remove seconds)"});
    CHECK(problems_of(R"({"provider": "studio",
        "shots": [{"seconds": 5, "prompt": "a [2.5s] cut"}, {"seconds": 0, "prompt": ""}]})") ==
          std::vector<std::string>{
              "shots[0].prompt: contains a mark like [4.0s], which the provider reads as the "
              "start of another shot (reword it, or make it a shot of its own)",
              "shots[1].seconds: 0 is not a length (use 1 or more)",
              "shots[1].prompt: is empty (write what the video should show)"});
}

TEST_CASE("prompt length counts characters, not bytes", "[manifest]") {
    test::TempDir dir;
    Config cfg;
    cfg.providers["openai"].core.models["sora-2"] = {"sora-2", {4}, {"1280x720"}, 0.1};
    std::string e = "\xC3\xA9";  // é: two bytes, one character
    std::string at_limit, over;
    for (int i = 0; i < 32000; ++i)
        at_limit += e;
    over = at_limit + e;
    CHECK(read_manifest(dir.write("limit.txt", at_limit), dir.str(), cfg));
    auto job = read_manifest(dir.write("over.txt", over), dir.str(), cfg);
    REQUIRE_FALSE(job);
    CHECK(job.error().front().code == "prompt_too_long");
    CHECK(job.error().front().message ==
          "is 32001 characters long; the limit is 32000 (shorten it)");
}

TEST_CASE("without providers every manifest names the unknown provider", "[manifest]") {
    test::TempDir dir;
    Config cfg;
    auto job = read_manifest(dir.write("a.json", R"({"prompt": "x"})"), dir.str(), cfg);
    REQUIRE_FALSE(job);
    CHECK(job.error().front().code == "unknown_provider");
    CHECK(job.error().front().message ==
          "the default (defaults.provider) \"openai\" is not a configured provider (add a "
          "[providers.openai] table)");
}

TEST_CASE("JSON nested absurdly deep is refused before it's parsed", "[manifest]") {
    test::TempDir dir;
    Config cfg;
    std::string deep = "{\"prompt\": \"x\", \"meta\": " + std::string(100000, '[') +
                       std::string(100000, ']') + "}";
    auto job = read_manifest(dir.write("deep.json", deep), dir.str(), cfg);
    REQUIRE_FALSE(job);
    CHECK(job.error().front().code == "parse_error");
}

TEST_CASE("manifest file names: .toml, .json, .txt, no dotfiles or partial files", "[manifest]") {
    CHECK(is_manifest_name("cat.json"));
    CHECK(is_manifest_name("cat.toml"));
    CHECK(is_manifest_name("cat.txt"));
    CHECK(is_manifest_name("bad name!.json"));  // taken, then rejected for its name
    CHECK_FALSE(is_manifest_name(".cat.json"));
    CHECK_FALSE(is_manifest_name("cat.json.tmp"));
    CHECK_FALSE(is_manifest_name("cat.json.part"));
    CHECK_FALSE(is_manifest_name("cat.png"));
    CHECK_FALSE(is_manifest_name("cat.JSON"));
    CHECK_FALSE(is_manifest_name(""));
}

TEST_CASE("job names are 1-120 of letters, digits, dot, underscore, dash", "[manifest]") {
    CHECK(is_valid_name("cat-piano_2.v1"));
    CHECK(is_valid_name(std::string(120, 'a')));
    CHECK_FALSE(is_valid_name(std::string(121, 'a')));
    CHECK_FALSE(is_valid_name(""));
    CHECK_FALSE(is_valid_name("bad name"));
    CHECK_FALSE(is_valid_name("caf\xC3\xA9"));
    CHECK_FALSE(is_valid_name("a/b"));
}

TEST_CASE("images are recognised by their first bytes", "[manifest]") {
    CHECK(sniff_image(std::string("\x89PNG\r\n\x1a\n\0\0", 10)) == "png");
    CHECK(sniff_image("\xFF\xD8\xFF\xE0") == "jpeg");
    CHECK(sniff_image(std::string("RIFF\x10\0\0\0WEBPVP8 ", 16)) == "webp");
    CHECK(sniff_image(std::string("RIFF\x10\0\0\0WAVEfmt ", 16)) == "");
    CHECK(sniff_image("GIF89a") == "");
    CHECK(sniff_image("") == "");
}

TEST_CASE("a number too large for a double is a parse error, not an exception (fuzz_manifest)",
          "[manifest]") {
    auto problems = bad("parse_error--number-overflow.json");
    REQUIRE(problems.size() == 1);
    CHECK(problems[0].code == "parse_error");
    CHECK_THAT(problems[0].message, Catch::Contains("number overflow"));
}

TEST_CASE("remix_of by name goes through the lookup the caller gives", "[manifest]") {
    const Config cfg = test::corpus_config();
    const std::string dir = test::kCorpus + "/good";
    const std::string path = dir + "/remix-by-name.json";  // remix_of = "delivered"
    // No lookup (no outbox to read): a name that looks like an id is taken as one.
    auto plain = read_manifest(path, dir, cfg);
    REQUIRE(plain);
    CHECK(plain->remix_of == "delivered");
    // A lookup that finds the job: its video, length and size.
    RemixLookup found =
        [](const std::string& name) -> tl::expected<std::optional<RemixSource>, std::string> {
        if (name != "delivered") return std::optional<RemixSource>();
        return std::optional<RemixSource>(RemixSource{"video_x", 4, Size{1280, 720}});
    };
    auto via = read_manifest(path, dir, cfg, found);
    REQUIRE(via);
    CHECK(via->remix_of == "video_x");
    CHECK(via->seconds == 4);
    CHECK(via->size == Size{1280, 720});
    // A lookup that finds a record it cannot read: the manifest fails, naming the field.
    RemixLookup broken =
        [](const std::string&) -> tl::expected<std::optional<RemixSource>, std::string> {
        return tl::unexpected(std::string("its sidecar outbox/delivered.json is not valid JSON"));
    };
    auto bad = read_manifest(path, dir, cfg, broken);
    REQUIRE_FALSE(bad);
    CHECK(bad.error().front().field == "remix_of");
    CHECK(bad.error().front().code == "bad_remix");
    CHECK(bad.error().front().message.find("not valid JSON") != std::string::npos);
}
