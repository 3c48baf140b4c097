#include <catch2/catch.hpp>

#include "pipeline/intake.hpp"

using namespace vd;
using namespace vd::intake;

namespace {

const TimePoint kT0 = from_ms(1795341600'000);
const Millis kSettle{250};
constexpr int64_t kMax = 1024 * 1024;

FileObservation file(std::string name, int64_t size = 120, int64_t mtime_ns = 5'000) {
    FileObservation f;
    f.name = std::move(name);
    f.size = size;
    f.mtime_ns = mtime_ns;
    return f;
}

}  // namespace

TEST_CASE("hidden, partial and non-manifest files are ignored", "[intake]") {
    for (const char* name :
         {".cat.json", ".hidden", "cat.json.tmp", "cat.toml.part", "x.TMP", "cat.png", "cat.JPG",
          "cat.jpeg", "cat.webp", "notes.md", "README", "cat.json~", ""}) {
        INFO(name);
        auto d = decide(file(name), std::nullopt, kT0, kSettle, kMax);
        CHECK(d.readiness == Readiness::ignore);
        CHECK_FALSE(d.remember);
    }
}

TEST_CASE("an image is ignored as travelling with its manifest", "[intake]") {
    auto d = decide(file("cat.png"), std::nullopt, kT0, kSettle, kMax);
    CHECK(d.readiness == Readiness::ignore);
    CHECK_THAT(d.reason, Catch::Contains("manifest"));
}

TEST_CASE("a hidden or partial file is ignored even when it is a symlink", "[intake]") {
    auto f = file(".cat.json");
    f.symlink = true;
    CHECK(decide(f, std::nullopt, kT0, kSettle, kMax).readiness == Readiness::ignore);
}

TEST_CASE("a manifest that is a symlink is rejected with a reason", "[intake]") {
    auto f = file("cat.toml");
    f.symlink = true;
    f.regular = false;
    auto d = decide(f, std::nullopt, kT0, kSettle, kMax);
    CHECK(d.readiness == Readiness::reject);
    CHECK_THAT(d.reason, Catch::Contains("'cat.toml' is a symbolic link"));
}

TEST_CASE("a manifest name that is not a regular file is rejected", "[intake]") {
    auto f = file("cat.json");
    f.regular = false;  // a directory or a fifo
    auto d = decide(f, std::nullopt, kT0, kSettle, kMax);
    CHECK(d.readiness == Readiness::reject);
    CHECK_THAT(d.reason, Catch::Contains("not a regular file"));
}

TEST_CASE("a manifest with an upper-case extension is rejected, not silently ignored", "[intake]") {
    auto d = decide(file("Cat.TXT"), std::nullopt, kT0, kSettle, kMax);
    CHECK(d.readiness == Readiness::reject);
    CHECK_THAT(d.reason, Catch::Contains(".txt"));
}

TEST_CASE("a manifest whose name is not a valid job name is rejected", "[intake]") {
    for (const char* name : {"my cat.toml", "caf\xC3\xA9.txt", "a$b.json", ".json"}) {
        INFO(name);
        auto d = decide(file(name), std::nullopt, kT0, kSettle, kMax);
        // ".json" is a dotfile and ignored; the others are rejected.
        if (std::string(name) == ".json")
            CHECK(d.readiness == Readiness::ignore);
        else
            CHECK(d.readiness == Readiness::reject);
    }
    CHECK(
        decide(file(std::string(120, 'a') + ".txt"), std::nullopt, kT0, kSettle, kMax).readiness ==
        Readiness::wait);
    CHECK(
        decide(file(std::string(121, 'a') + ".txt"), std::nullopt, kT0, kSettle, kMax).readiness ==
        Readiness::reject);
}

TEST_CASE("a rejected name shows bytes outside printable ASCII escaped", "[intake]") {
    auto d = decide(file("caf\xE9 1.txt"), std::nullopt, kT0, kSettle, kMax);
    CHECK(d.readiness == Readiness::reject);
    CHECK_THAT(d.reason, Catch::StartsWith("'caf\\xE9 1.txt'"));
}

TEST_CASE("a manifest over the size limit is rejected naming both sizes", "[intake]") {
    auto d = decide(file("big.json", kMax + 1), std::nullopt, kT0, kSettle, kMax);
    CHECK(d.readiness == Readiness::reject);
    CHECK_THAT(d.reason, Catch::Contains(std::to_string(kMax + 1) + " bytes"));
    CHECK_THAT(d.reason, Catch::Contains(std::to_string(kMax)));
    CHECK(decide(file("edge.json", kMax), std::nullopt, kT0, kSettle, kMax).readiness ==
          Readiness::wait);
}

TEST_CASE("a manifest seen for the first time waits and is remembered", "[intake]") {
    auto d = decide(file("cat.json", 120, 5'000), std::nullopt, kT0, kSettle, kMax);
    CHECK(d.readiness == Readiness::wait);
    REQUIRE(d.remember);
    CHECK(d.remember->size == 120);
    CHECK(d.remember->mtime_ns == 5'000);
    CHECK(d.remember->first_seen_stable == kT0);
    CHECK(d.recheck_at == kT0 + kSettle);
}

TEST_CASE("an unchanged manifest becomes ready once stable for the settle time", "[intake]") {
    const SeenBefore prev{120, 5'000, kT0};
    auto early = decide(file("cat.toml"), prev, kT0 + Millis{249}, kSettle, kMax);
    CHECK(early.readiness == Readiness::wait);
    REQUIRE(early.remember);
    CHECK(early.remember->first_seen_stable ==
          kT0);  // the clock keeps running from the first sighting
    CHECK(early.recheck_at == kT0 + kSettle);

    auto on_time = decide(file("cat.toml"), prev, kT0 + kSettle, kSettle, kMax);
    CHECK(on_time.readiness == Readiness::ready);
}

TEST_CASE("a manifest still being written waits and starts settling anew", "[intake]") {
    const SeenBefore prev{120, 5'000, kT0};
    const TimePoint later = kT0 + Millis{400};
    for (auto f : {file("cat.txt", 200, 5'000), file("cat.txt", 120, 6'000)}) {
        auto d = decide(f, prev, later, kSettle, kMax);
        CHECK(d.readiness == Readiness::wait);
        REQUIRE(d.remember);
        CHECK(d.remember->size == f.size);
        CHECK(d.remember->mtime_ns == f.mtime_ns);
        CHECK(d.remember->first_seen_stable == later);
        CHECK(d.recheck_at == later + kSettle);
    }
}

TEST_CASE("a manifest renamed in is ready at once, unless a writer still holds it", "[intake]") {
    const Millis long_settle{10'000};
    auto f = file("cat.json");
    f.age = Millis{0};
    f.open_for_writing = false;
    f.renamed_in = true;
    auto d = decide(f, std::nullopt, kT0, long_settle, kMax);
    CHECK(d.readiness == Readiness::ready);
    f.renamed_in = false;  // written in place, just closed: it settles first
    CHECK(decide(f, std::nullopt, kT0, long_settle, kMax).readiness == Readiness::wait);
    f.renamed_in = true;
    f.open_for_writing = true;  // renamed in, then opened again by its writer
    d = decide(f, std::nullopt, kT0, long_settle, kMax);
    CHECK(d.readiness == Readiness::wait);
    CHECK(d.reason == "still open for writing");
}

TEST_CASE("with a zero settle a manifest is ready when first seen", "[intake]") {
    auto d = decide(file("cat.json"), std::nullopt, kT0, Millis{0}, kMax);
    CHECK(d.readiness == Readiness::ready);
    CHECK_FALSE(d.recheck_at);
}

TEST_CASE("a whole sequence: copied in slowly, then settles, then ready", "[intake]") {
    std::optional<SeenBefore> seen;
    TimePoint t = kT0;
    auto step = [&](int64_t size, int64_t mtime) {
        auto d = decide(file("slow.json", size, mtime), seen, t, kSettle, kMax);
        seen = d.remember;
        t += Millis{100};
        return d.readiness;
    };
    CHECK(step(10, 1) == Readiness::wait);
    CHECK(step(20, 2) == Readiness::wait);
    CHECK(step(30, 3) == Readiness::wait);  // stable from here
    CHECK(step(30, 3) == Readiness::wait);
    CHECK(step(30, 3) == Readiness::wait);
    CHECK(step(30, 3) == Readiness::ready);  // 300 ms >= 250 ms
}

TEST_CASE("a missing size limit accepts any size", "[intake]") {
    CHECK(decide(file("cat.json", int64_t{1} << 40), std::nullopt, kT0, Millis{0}, 0).readiness ==
          Readiness::ready);
}

TEST_CASE("name helpers", "[intake]") {
    CHECK(is_manifest_name("cat.toml"));
    CHECK(is_manifest_name("cat.json"));
    CHECK(is_manifest_name("cat.txt"));
    CHECK_FALSE(is_manifest_name("cat.TOML"));
    CHECK_FALSE(is_manifest_name(".toml"));
    CHECK_FALSE(is_manifest_name("cat.json.tmp"));
    CHECK(is_image_name("cat.png"));
    CHECK(is_image_name("cat.JPG"));
    CHECK(is_image_name("cat.jpeg"));
    CHECK(is_image_name("cat.webp"));
    CHECK_FALSE(is_image_name("cat.gif"));
    CHECK(is_valid_job_name("cat-piano_2.v1"));
    CHECK_FALSE(is_valid_job_name(""));
    CHECK_FALSE(is_valid_job_name("a/b"));
    CHECK(to_string(Readiness::reject) == "reject");
}

TEST_CASE("an image settles once its size and mtime hold for settle", "[intake]") {
    auto first = settle_state(file("cat.png", 10, 1), std::nullopt, kT0, kSettle);
    CHECK(first.still_settling);
    CHECK(first.settled_at == kT0 + kSettle);
    // It grew: the clock starts again.
    auto grown = settle_state(file("cat.png", 20, 2), first.remember, kT0 + Millis{200}, kSettle);
    CHECK(grown.still_settling);
    CHECK(grown.settled_at == kT0 + Millis{200} + kSettle);
    auto early = settle_state(file("cat.png", 20, 2), grown.remember, kT0 + Millis{300}, kSettle);
    CHECK(early.still_settling);
    auto done = settle_state(file("cat.png", 20, 2), early.remember, kT0 + Millis{450}, kSettle);
    CHECK_FALSE(done.still_settling);
    CHECK_FALSE(settle_state(file("cat.png"), std::nullopt, kT0, Millis{0}).still_settling);
}

TEST_CASE("a .txt takes only its own stem's image; other manifests may take any", "[intake]") {
    CHECK(may_take_image("cat.txt", "cat.png"));
    CHECK(may_take_image("cat.txt", "cat.JPEG"));
    CHECK_FALSE(may_take_image("cat.txt", "dog.png"));
    CHECK_FALSE(may_take_image("cat.txt", "cats.png"));
    CHECK_FALSE(may_take_image("cat.txt", "cat.old.png"));
    CHECK_FALSE(may_take_image("cat.txt", "ca.png"));
    CHECK(may_take_image("scene.json", "ref.png"));
    CHECK(may_take_image("scene.toml", "anything.webp"));
}
