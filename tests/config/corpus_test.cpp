#include <map>
#include <set>

#include <catch2/catch.hpp>

#include "config/manifest.hpp"
#include "daemon/sidecar.hpp"
#include "tests/config/corpus.hpp"

using namespace vd;

namespace {

const std::set<std::string> kCodes{
    "bad_name",        "parse_error",   "unknown_key",      "wrong_type",    "missing_prompt",
    "prompt_too_long", "invalid_utf8",  "unknown_provider", "unknown_model", "bad_seconds",
    "bad_size",        "bad_aspect",    "bad_image_path",   "image_missing", "image_not_supported",
    "image_too_large", "bad_image_fit", "bad_variant",      "bad_remix",     "unsupported",
    "too_large",       "unreadable",    "bad_shots",        "bad_continuity"};

// A bad file's name says what it must fail with: CODE.ext or CODE--what.ext.
std::string expected_code(const std::filesystem::path& p) {
    static const std::map<std::string, std::string> special{{"bad name!.json", "bad_name"}};
    if (auto it = special.find(p.filename().string()); it != special.end()) return it->second;
    std::string stem = p.stem().string();
    return stem.substr(0, stem.find("--"));
}

std::string describe(const std::vector<ManifestProblem>& problems) {
    std::string out;
    for (const auto& p : problems)
        out += "[" + p.code + "] " + p.format() + "\n";
    return out;
}

}  // namespace

TEST_CASE("every good manifest of the corpus is valid", "[manifest][corpus]") {
    Config cfg = test::corpus_config();
    auto files = test::corpus_manifests("good");
    CHECK(files.size() >= 20);
    for (const auto& f : files) {
        auto job = read_manifest(f.string(), f.parent_path().string(), cfg,
                                 remix_lookup(cfg.paths.outbox));
        INFO(f.filename().string() << "\n" << (job ? "" : describe(job.error())));
        CHECK(job);
    }
}

TEST_CASE("every bad manifest of the corpus fails with the code in its name",
          "[manifest][corpus]") {
    Config cfg = test::corpus_config();
    auto files = test::corpus_manifests("bad");
    CHECK(files.size() >= 25);
    std::set<std::string> seen;
    for (const auto& f : files) {
        auto job = read_manifest(f.string(), f.parent_path().string(), cfg,
                                 remix_lookup(cfg.paths.outbox));
        std::string want = expected_code(f);
        INFO(f.filename().string() << " should fail with " << want << "\n"
                                   << (job ? "but passed" : describe(job.error())));
        REQUIRE_FALSE(job);
        REQUIRE(kCodes.count(want) == 1);
        bool found = false;
        for (const auto& p : job.error()) {
            CHECK(kCodes.count(p.code) == 1);
            CHECK(p.file == f.string());
            CHECK_FALSE(p.message.empty());
            found = found || p.code == want;
        }
        CHECK(found);
        seen.insert(want);
    }
    for (const auto& code : kCodes) {
        INFO("no corpus case for " << code);
        CHECK(seen.count(code) == 1);
    }
}
