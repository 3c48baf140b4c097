#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>
#include <uv.h>

#include <catch2/catch.hpp>

#include "daemon/media_probe.hpp"
#include "daemon/sha256.hpp"
#include "pipeline/verdict.hpp"

namespace fs = std::filesystem;

namespace {

// Fixtures are made once per run with the ffmpeg CLI, in a folder removed at exit.
struct TempDir {
    fs::path path = fs::temp_directory_path() / ("vd-probe-test-" + std::to_string(::getpid()));
    TempDir() { fs::create_directories(path); }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
};

fs::path temp_dir() {
    static TempDir dir;
    return dir.path;
}

// 2 s of 320x180 at 10 fps (20 frames, a keyframe every 5) with AAC audio, unless `inputs` differ.
std::string make_mp4(const std::string& name, const std::string& extra,
                     const std::string& inputs = "-f lavfi -i sine -c:a aac") {
    std::string path = (temp_dir() / name).string();
    if (!fs::exists(path)) {
        std::string cmd =
            "ffmpeg -nostdin -hide_banner -loglevel error -y -f lavfi -i "
            "testsrc=size=320x180:rate=10 " +
            inputs + " -t 2 -c:v libx264 -preset ultrafast -g 5 -pix_fmt yuv420p " + extra + " '" +
            path + "'";
        REQUIRE(std::system(cmd.c_str()) == 0);
    }
    return path;
}

std::string read_all(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}

std::string write_file(const std::string& name, const std::string& bytes) {
    std::string path = (temp_dir() / name).string();
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
}

std::string first_half(const std::string& src, const std::string& name) {
    std::string bytes = read_all(src);
    return write_file(name, bytes.substr(0, bytes.size() / 2));
}

vd::Expectation two_seconds_320x180() {
    vd::Expectation e;
    e.size = {320, 180};
    e.seconds = 2;
    return e;
}

}  // namespace

TEST_CASE("probe of a complete faststart MP4 reads every header and packet", "[probe]") {
    std::string path = make_mp4("good.mp4", "-movflags +faststart");
    vd::MediaInfo info = vd::probe_mp4(path);

    REQUIRE(info.opened);
    CHECK(info.open_error.empty());
    CHECK(info.container == "mp4");
    CHECK(info.duration == Approx(2.0).margin(0.1));
    CHECK(info.has_video);
    CHECK(info.video_codec == "h264");
    CHECK(info.width == 320);
    CHECK(info.height == 180);
    CHECK(info.fps == Approx(10.0));
    CHECK(info.frames == 20);
    CHECK(info.video_packets == 20);
    CHECK(info.last_video_pts == Approx(2.0).margin(0.05));
    CHECK_FALSE(info.demux_error);
    CHECK(info.has_audio);
    CHECK(info.audio_codec == "aac");
    CHECK(info.sample_rate == 44100);
    CHECK(info.channels == 1);
    CHECK(info.bytes == static_cast<int64_t>(fs::file_size(path)));
    CHECK(info.sha256 == vd::sha256_hex(read_all(path)));
    CHECK(vd::evaluate(info, two_seconds_320x180()).ok);
}

TEST_CASE("probe of a video-only MP4 reports no audio", "[probe]") {
    vd::MediaInfo info = vd::probe_mp4(make_mp4("silent.mp4", "-movflags +faststart", ""));
    REQUIRE(info.opened);
    CHECK(info.has_video);
    CHECK_FALSE(info.has_audio);
    CHECK(info.audio_codec.empty());
}

TEST_CASE("probe of a truncated moov-at-end MP4 fails to open", "[probe]") {
    std::string cut = first_half(make_mp4("plain.mp4", ""), "plain-cut.mp4");
    vd::MediaInfo info = vd::probe_mp4(cut);
    CHECK_FALSE(info.opened);
    CHECK_FALSE(info.open_error.empty());
    CHECK(info.bytes > 0);
    CHECK(info.sha256 == vd::sha256_hex(read_all(cut)));
    CHECK(vd::evaluate(info, two_seconds_320x180()).code == "not_mp4");
}

TEST_CASE("probe of a truncated faststart MP4 opens but finds packets missing", "[probe]") {
    vd::MediaInfo info =
        vd::probe_mp4(first_half(make_mp4("good.mp4", "-movflags +faststart"), "good-cut.mp4"));
    REQUIRE(info.opened);
    CHECK(info.frames == 20);  // the header still promises every frame
    CHECK(info.video_packets < info.frames);
    CHECK(vd::evaluate(info, two_seconds_320x180()).code == "truncated");
}

TEST_CASE("probe of a truncated fragmented MP4 ends short of the duration", "[probe]") {
    std::string whole = make_mp4("frag.mp4", "-movflags frag_keyframe+empty_moov");
    vd::MediaInfo full = vd::probe_mp4(whole);
    REQUIRE(full.opened);
    CHECK(full.duration == Approx(2.0).margin(0.05));  // summed from the fragments
    CHECK(full.video_packets == 20);
    CHECK(full.last_video_pts == Approx(2.0).margin(0.05));
    CHECK(vd::evaluate(full, two_seconds_320x180()).ok);

    vd::MediaInfo info = vd::probe_mp4(first_half(whole, "frag-cut.mp4"));
    REQUIRE(info.opened);
    CHECK(info.frames == 0);  // an empty moov knows no frame count
    CHECK(info.video_packets < 20);
    CHECK(info.last_video_pts < 1.6);
    CHECK(info.duration < 1.6);  // no header promises more: the duration check catches it
    CHECK(vd::evaluate(info, two_seconds_320x180()).code == "wrong_duration");
}

TEST_CASE("probe of an HTML or JSON body saved as .mp4 does not open", "[probe]") {
    std::string body = GENERATE(std::string("<!DOCTYPE html><html><body>504 Gateway Time-out"
                                            "</body></html>\n"),
                                std::string("{\"error\":{\"message\":\"expired\"}}"));
    vd::MediaInfo info = vd::probe_mp4(write_file("body.mp4", body));
    CHECK_FALSE(info.opened);
    CHECK_FALSE(info.has_video);
    CHECK(info.bytes == static_cast<int64_t>(body.size()));
    CHECK(vd::evaluate(info, two_seconds_320x180()).code == "not_mp4");
}

TEST_CASE("probe of a missing file reports it without opening", "[probe]") {
    vd::MediaInfo info = vd::probe_mp4((temp_dir() / "missing.mp4").string());
    CHECK_FALSE(info.opened);
    CHECK(info.open_error.find("missing.mp4") != std::string::npos);
    CHECK(info.sha256.empty());
}

TEST_CASE("probe of an MP4 with corrupted bytes in the middle still passes", "[probe]") {
    // Expected: every packet is still there; only a decode pass would see the damage.
    std::string bytes = read_all(make_mp4("good.mp4", "-movflags +faststart"));
    for (size_t i = bytes.size() / 2; i < bytes.size() / 2 + 4096; ++i)
        bytes[i] ^= 0x5a;
    vd::MediaInfo info = vd::probe_mp4(write_file("corrupt.mp4", bytes));
    REQUIRE(info.opened);
    CHECK(info.video_packets == 20);
    CHECK_FALSE(info.demux_error);
    CHECK(vd::evaluate(info, two_seconds_320x180()).ok);
}

TEST_CASE("probe_async delivers the result on the loop thread", "[probe]") {
    std::string path = make_mp4("good.mp4", "-movflags +faststart");
    uv_loop_t loop;
    REQUIRE(uv_loop_init(&loop) == 0);
    int calls = 0;
    vd::MediaInfo got;
    std::thread::id loop_thread = std::this_thread::get_id(), called_on;
    vd::probe_async(&loop, path, false, [&](vd::MediaInfo info) {
        ++calls;
        called_on = std::this_thread::get_id();
        got = std::move(info);
    });
    CHECK(calls == 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(calls == 1);
    CHECK(called_on == loop_thread);
    CHECK(got.opened);
    CHECK(got.video_packets == 20);
    CHECK(uv_loop_close(&loop) == 0);
}

TEST_CASE("MediaProber runs at most max_parallel probes and queues the rest", "[probe]") {
    std::string good = make_mp4("good.mp4", "-movflags +faststart");
    std::string body = write_file("queued-body.mp4", "<html></html>");
    uv_loop_t loop;
    REQUIRE(uv_loop_init(&loop) == 0);
    {
        vd::MediaProber prober(&loop, 2);
        std::vector<std::string> done;
        size_t most_running = 0;
        for (const auto& path : {good, body, good, body, good}) {
            prober.probe(path, false, [&](vd::MediaInfo info) {
                done.push_back(info.opened ? "opened" : "refused");
                most_running = std::max(most_running, prober.running() + 1);
            });
        }
        CHECK(prober.pending() == 5);
        CHECK(prober.running() == 2);
        uv_run(&loop, UV_RUN_DEFAULT);
        CHECK(done.size() == 5);
        CHECK(std::count(done.begin(), done.end(), "opened") == 3);
        CHECK(most_running <= 2);
        CHECK(prober.pending() == 0);
    }
    CHECK(uv_loop_close(&loop) == 0);
}

TEST_CASE("MediaProber destroyed mid-probe drops the queue and lets the running probe finish",
          "[probe]") {
    std::string good = make_mp4("good.mp4", "-movflags +faststart");
    uv_loop_t loop;
    REQUIRE(uv_loop_init(&loop) == 0);
    int calls = 0;
    {
        vd::MediaProber prober(&loop, 1);
        for (int i = 0; i < 3; ++i)
            prober.probe(good, false, [&](vd::MediaInfo) { ++calls; });
        CHECK(prober.running() == 1);
    }
    // The running probe still holds the loop open until its work is done.
    CHECK(uv_loop_alive(&loop));
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(calls == 0);
    CHECK(uv_loop_close(&loop) == 0);
}

TEST_CASE("MediaProber done callback may queue another probe", "[probe]") {
    std::string good = make_mp4("good.mp4", "-movflags +faststart");
    uv_loop_t loop;
    REQUIRE(uv_loop_init(&loop) == 0);
    {
        vd::MediaProber prober(&loop, 1);
        int calls = 0;
        prober.probe(good, false, [&](vd::MediaInfo) {
            ++calls;
            prober.probe(good, false, [&](vd::MediaInfo info) {
                ++calls;
                CHECK(info.opened);
            });
        });
        uv_run(&loop, UV_RUN_DEFAULT);
        CHECK(calls == 2);
    }
    CHECK(uv_loop_close(&loop) == 0);
}
