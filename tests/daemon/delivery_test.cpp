#include "daemon/delivery.hpp"

#include <stdlib.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "daemon/fsutil.hpp"
#include "daemon/sha256.hpp"
#include "daemon/sidecar.hpp"

namespace {

namespace stdfs = std::filesystem;
using nlohmann::json;

struct Spool {
    std::string root;
    vd::Paths paths;
    Spool() {
        char tmpl[] = "/tmp/vd-delivery-XXXXXX";
        root = ::mkdtemp(tmpl);
        paths = {root + "/inbox", root + "/outbox", root + "/failed", root + "/state"};
        REQUIRE(vd::delivery::prepare(paths));
        stdfs::create_directories(root + "/claimed");
    }
    ~Spool() { stdfs::remove_all(root); }
};

void write(const std::string& path, const std::string& text) {
    std::ofstream(path) << text;
}

std::string slurp(const std::string& path) {
    auto r = vd::fs::read_file(path, 1 << 20);
    REQUIRE(r);
    return *r;
}

std::vector<std::string> names_in(const std::string& dir) {
    std::vector<std::string> out;
    for (const auto& e : stdfs::directory_iterator(dir))
        out.push_back(e.path().filename());
    std::sort(out.begin(), out.end());
    return out;
}

// A job whose downloads sit in outbox/.tmp, ready to publish as `stem`.
vd::Job downloaded_job(const Spool& s, const std::string& id, const std::string& stem,
                       const std::string& video = "mp4 bytes") {
    vd::Job job;
    job.id = id;
    job.spec.name = "cat";
    job.spec.seconds = 4;
    job.output_name = stem;
    job.variants_done = {"video", "thumbnail"};
    job.media.bytes = static_cast<int64_t>(video.size());
    job.media.sha256 = vd::sha256_hex(video);
    write(vd::delivery::tmp_path(s.paths, id, "video"), video);
    write(vd::delivery::tmp_path(s.paths, id, "thumbnail"), "webp bytes");
    return job;
}

vd::JobError error_of(std::string stage, std::string code, std::string message = "") {
    vd::JobError e;
    e.stage = std::move(stage);
    e.code = std::move(code);
    e.message = std::move(message);
    return e;
}

json sidecar_of(const vd::Job& job) {
    return vd::make_sidecar(job, job.output_name, vd::from_ms(1795341600000), "0.1.0");
}

}  // namespace

TEST_CASE("downloads go to outbox/.tmp named by job and variant", "[delivery]") {
    vd::Paths p;
    p.outbox = "/o";
    CHECK(vd::delivery::tmp_path(p, "7-cat", "video") == "/o/.tmp/7-cat.video.mp4");
    CHECK(vd::delivery::tmp_path(p, "7-cat", "thumbnail") == "/o/.tmp/7-cat.thumbnail.webp");
    CHECK(vd::delivery::tmp_path(p, "7-cat", "spritesheet") == "/o/.tmp/7-cat.spritesheet.jpg");
    CHECK(vd::delivery::output_file("cat-2", "video") == "cat-2.mp4");
    CHECK(vd::delivery::output_file("cat-2", "spritesheet") == "cat-2.spritesheet.jpg");
}

TEST_CASE("output names never reuse a taken name: cat, cat-2, cat-3", "[delivery]") {
    Spool s;
    CHECK(vd::delivery::choose_output_name(s.paths, "cat") == "cat");
    write(s.paths.outbox + "/cat.mp4", "");
    CHECK(vd::delivery::choose_output_name(s.paths, "cat") == "cat-2");
    // Any one of the outputs makes a name taken, even a lone sidecar or variant.
    write(s.paths.outbox + "/cat-2.json", "");
    write(s.paths.outbox + "/cat-3.spritesheet.jpg", "");
    CHECK(vd::delivery::choose_output_name(s.paths, "cat") == "cat-4");
}

TEST_CASE("publish puts variants and video in the outbox, then the sidecar", "[delivery]") {
    Spool s;
    auto job = downloaded_job(s, "1-cat", "cat");
    auto stem = vd::delivery::publish(s.paths, job, sidecar_of(job));
    REQUIRE(stem);
    CHECK(*stem == "cat");
    CHECK(names_in(s.paths.outbox) ==
          std::vector<std::string>{".tmp", "cat.json", "cat.mp4", "cat.thumbnail.webp"});
    CHECK(names_in(s.paths.outbox + "/.tmp").empty());
    CHECK(slurp(s.paths.outbox + "/cat.mp4") == "mp4 bytes");
    auto sidecar = json::parse(slurp(s.paths.outbox + "/cat.json"));
    CHECK(sidecar["schema"] == "videodrop.sidecar/1");
    CHECK(sidecar["name"] == "cat");
    CHECK(sidecar["file"]["name"] == "cat.mp4");
    CHECK(sidecar["file"]["sha256"] == vd::sha256_hex("mp4 bytes"));
    CHECK(sidecar["variants"] == json{{"thumbnail", "cat.thumbnail.webp"}});

    // Publishing again is a no-op that succeeds.
    CHECK(vd::delivery::publish(s.paths, job, sidecar_of(job)));
    CHECK(slurp(s.paths.outbox + "/cat.mp4") == "mp4 bytes");
}

TEST_CASE("a second job of the same name is published as cat-2 beside the first", "[delivery]") {
    Spool s;
    auto first = downloaded_job(s, "1-cat", "cat", "first video");
    REQUIRE(vd::delivery::publish(s.paths, first, sidecar_of(first)));
    auto second = downloaded_job(s, "2-cat", vd::delivery::choose_output_name(s.paths, "cat"),
                                 "second video");
    auto stem = vd::delivery::publish(s.paths, second, sidecar_of(second));
    REQUIRE(stem);
    CHECK(*stem == "cat-2");
    CHECK(slurp(s.paths.outbox + "/cat.mp4") == "first video");
    CHECK(slurp(s.paths.outbox + "/cat-2.mp4") == "second video");
    CHECK(json::parse(slurp(s.paths.outbox + "/cat-2.json"))["name"] == "cat-2");
}

TEST_CASE("publish never overwrites a file that appeared after the name was chosen", "[delivery]") {
    Spool s;
    auto job = downloaded_job(s, "1-cat", "cat");
    write(s.paths.outbox + "/cat.mp4", "someone else's");
    auto r = vd::delivery::publish(s.paths, job, sidecar_of(job));
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error(),
               Catch::Contains(s.paths.outbox + "/cat.mp4") && Catch::Contains("already exists"));
    CHECK(slurp(s.paths.outbox + "/cat.mp4") == "someone else's");
    CHECK_FALSE(stdfs::exists(s.paths.outbox + "/cat.json"));
}

TEST_CASE("re-publishing after a crash between the video and the sidecar completes the job",
          "[delivery]") {
    Spool s;
    auto job = downloaded_job(s, "1-cat", "cat");
    // The crash: variants and video renamed, no sidecar yet.
    stdfs::rename(vd::delivery::tmp_path(s.paths, "1-cat", "thumbnail"),
                  s.paths.outbox + "/cat.thumbnail.webp");
    stdfs::rename(vd::delivery::tmp_path(s.paths, "1-cat", "video"), s.paths.outbox + "/cat.mp4");
    CHECK_FALSE(stdfs::exists(s.paths.outbox + "/cat.json"));

    auto stem = vd::delivery::publish(s.paths, job, sidecar_of(job));
    REQUIRE(stem);
    CHECK(*stem == "cat");
    CHECK(json::parse(slurp(s.paths.outbox + "/cat.json"))["file"]["bytes"] == 9);
    CHECK(slurp(s.paths.outbox + "/cat.mp4") == "mp4 bytes");
}

TEST_CASE("publish refuses a video in place that is not the job's, and a missing download",
          "[delivery]") {
    Spool s;
    auto job = downloaded_job(s, "1-cat", "cat");
    stdfs::remove(vd::delivery::tmp_path(s.paths, "1-cat", "video"));
    auto missing = vd::delivery::publish(s.paths, job, sidecar_of(job));
    REQUIRE_FALSE(missing);
    CHECK_THAT(missing.error(),
               Catch::Contains("1-cat.video.mp4") && Catch::Contains("downloaded again"));

    write(s.paths.outbox + "/cat.mp4", "another video");
    auto foreign = vd::delivery::publish(s.paths, job, sidecar_of(job));
    REQUIRE_FALSE(foreign);
    CHECK_THAT(foreign.error(), Catch::Contains("not this job's video"));
    CHECK_FALSE(stdfs::exists(s.paths.outbox + "/cat.json"));
}

TEST_CASE("move_to_failed moves the inputs and writes the error file last", "[delivery]") {
    Spool s;
    const std::string claim = s.root + "/claimed/1-cat";
    stdfs::create_directory(claim);
    write(claim + "/cat.json", "{\"prompt\": \"x\", \"image\": \"photo.png\"}");
    write(claim + "/photo.png", "png");
    auto e =
        vd::JobError::make("validate", "image_too_big", "photo.png is 30 MB", "make it smaller");
    auto error = vd::make_error("cat", json{{"prompt", "x"}}, e);

    auto stem = vd::delivery::move_to_failed(s.paths, claim, {"cat.json", "photo.png", "gone.png"},
                                             "cat", error);
    REQUIRE(stem);
    CHECK(*stem == "cat");
    CHECK(names_in(s.paths.failed) ==
          std::vector<std::string>{".tmp", "cat.error.json", "cat.json", "photo.png"});
    CHECK(names_in(s.paths.failed + "/.tmp").empty());
    auto written = json::parse(slurp(s.paths.failed + "/cat.error.json"));
    CHECK(written["schema"] == "videodrop.error/1");
    CHECK(written["name"] == "cat");
    CHECK(written["error"]["code"] == "image_too_big");
    CHECK(written["files"] == json{{"cat.json", "cat.json"}, {"photo.png", "photo.png"}});
}

TEST_CASE("move_to_failed renames on collision and records the original names", "[delivery]") {
    Spool s;
    write(s.paths.failed + "/cat.json", "older");
    write(s.paths.failed + "/cat.error.json", "{}");
    const std::string claim = s.root + "/claimed/2-cat";
    stdfs::create_directory(claim);
    write(claim + "/cat.json", "newer");
    write(claim + "/photo.png", "png");
    auto e = vd::JobError::make("generate", "moderation_blocked", "blocked");
    e.http_status = 400;
    e.request_id = "req_1";

    auto stem = vd::delivery::move_to_failed(s.paths, claim, {"cat.json", "photo.png"}, "cat",
                                             vd::make_error("cat", nullptr, e));
    REQUIRE(stem);
    CHECK(*stem == "cat-2");
    CHECK(slurp(s.paths.failed + "/cat.json") == "older");
    CHECK(slurp(s.paths.failed + "/cat-2.json") == "newer");
    CHECK(slurp(s.paths.failed + "/photo-2.png") == "png");
    auto written = json::parse(slurp(s.paths.failed + "/cat-2.error.json"));
    CHECK(written["name"] == "cat-2");
    CHECK(written["files"] == json{{"cat-2.json", "cat.json"}, {"photo-2.png", "photo.png"}});
}

TEST_CASE("move_to_failed run again after a crash keeps the name it chose", "[delivery]") {
    Spool s;
    const std::string claim = s.root + "/claimed/1-cat";
    stdfs::create_directory(claim);
    write(claim + "/cat.txt", "a cat");
    auto error = vd::make_error("cat", nullptr, error_of("submit", "bad_request"));
    REQUIRE(vd::delivery::move_to_failed(s.paths, claim, {"cat.txt"}, "cat", error));
    // As if the crash came after the manifest's move, before the error file.
    stdfs::remove(s.paths.failed + "/cat.error.json");

    auto stem = vd::delivery::move_to_failed(s.paths, claim, {"cat.txt"}, "cat", error);
    REQUIRE(stem);
    CHECK(*stem == "cat");
    CHECK(names_in(s.paths.failed) ==
          std::vector<std::string>{".tmp", "cat.error.json", "cat.txt"});
}

TEST_CASE("move_to_failed copies when failed/ is on another filesystem", "[delivery]") {
    Spool s;
    struct stat a {
    }, b{};
    if (::stat("/dev/shm", &b) != 0 || ::stat(s.root.c_str(), &a) != 0 || a.st_dev == b.st_dev) {
        WARN("no second filesystem at /dev/shm; skipped");
        return;
    }
    char tmpl[] = "/dev/shm/vd-failed-XXXXXX";
    const std::string other = ::mkdtemp(tmpl);
    s.paths.failed = other + "/failed";
    REQUIRE(vd::delivery::prepare(s.paths));
    const std::string claim = s.root + "/claimed/1-cat";
    stdfs::create_directory(claim);
    write(claim + "/cat.json", "{}");
    stdfs::create_symlink("/etc/passwd", claim + "/link.png");

    auto stem =
        vd::delivery::move_to_failed(s.paths, claim, {"cat.json", "link.png"}, "cat",
                                     vd::make_error("cat", nullptr, error_of("intake", "symlink")));
    CHECK(stem);
    CHECK(slurp(s.paths.failed + "/cat.json") == "{}");
    CHECK(stdfs::is_symlink(s.paths.failed + "/link.png"));
    CHECK(stdfs::exists(s.paths.failed + "/cat.error.json"));
    CHECK_FALSE(stdfs::exists(claim + "/cat.json"));
    CHECK(names_in(s.paths.failed + "/.tmp").empty());
    stdfs::remove_all(other);
}

TEST_CASE("discard_tmp removes a job's downloads and nothing else", "[delivery]") {
    Spool s;
    downloaded_job(s, "1-cat", "cat");
    downloaded_job(s, "2-dog", "dog");
    vd::delivery::discard_tmp(s.paths, "1-cat");
    CHECK(names_in(s.paths.outbox + "/.tmp") ==
          std::vector<std::string>{"2-dog.thumbnail.webp", "2-dog.video.mp4"});
}
