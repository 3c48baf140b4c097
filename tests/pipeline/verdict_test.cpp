#include <catch2/catch.hpp>

#include "pipeline/verdict.hpp"

using namespace vd;

namespace {

// What the probe reads from a good 8 s 1280x720 H.264 + AAC file at 30 fps.
MediaInfo good_file() {
    MediaInfo m;
    m.opened = true;
    m.container = "mp4";
    m.duration = 8.02;
    m.has_video = true;
    m.video_codec = "h264";
    m.width = 1280;
    m.height = 720;
    m.fps = 30;
    m.frames = 240;
    m.video_packets = 240;
    m.last_video_pts = 8.0;
    m.has_audio = true;
    m.audio_codec = "aac";
    m.sample_rate = 48000;
    m.channels = 2;
    return m;
}

Expectation asked() {
    Expectation e;
    e.size = Size{1280, 720};
    e.seconds = 8;
    return e;
}

}  // namespace

TEST_CASE("a complete file of the asked size and duration is ok", "[verdict]") {
    auto v = evaluate(good_file(), asked());
    CHECK(v.ok);
    CHECK(v.code.empty());
    CHECK(v.message.empty());
}

TEST_CASE("a file that did not open as MP4 is not_mp4 with the probe's words", "[verdict]") {
    auto m = good_file();
    m.opened = false;
    m.open_error = "Invalid data found when processing input";
    auto v = evaluate(m, asked());
    CHECK_FALSE(v.ok);
    CHECK(v.code == "not_mp4");
    CHECK_THAT(v.message, Catch::Contains("Invalid data found when processing input"));
}

TEST_CASE("a file without a video stream is no_video", "[verdict]") {
    auto m = good_file();
    m.has_video = false;
    auto v = evaluate(m, asked());
    CHECK_FALSE(v.ok);
    CHECK(v.code == "no_video");
}

TEST_CASE("a codec outside the list is bad_codec; the list is case-blind", "[verdict]") {
    auto m = good_file();
    m.video_codec = "mpeg4";
    auto v = evaluate(m, asked());
    CHECK(v.code == "bad_codec");
    CHECK_THAT(v.message, Catch::Contains("mpeg4"));
    CHECK_THAT(v.message, Catch::Contains("h264, hevc, av1, vp9"));

    m.video_codec = "HEVC";
    CHECK(evaluate(m, asked()).ok);

    auto any = asked();
    any.codecs.clear();  // no list: any codec will do
    m.video_codec = "mpeg4";
    CHECK(evaluate(m, any).ok);
}

TEST_CASE("a file of another size is wrong_size naming both sizes", "[verdict]") {
    auto m = good_file();
    m.width = 640;
    m.height = 360;
    auto v = evaluate(m, asked());
    CHECK(v.code == "wrong_size");
    CHECK(v.message == "got 640x360, asked for 1280x720");

    m.width = 720;
    m.height = 1280;  // rotated is still wrong
    CHECK(evaluate(m, asked()).code == "wrong_size");
}

TEST_CASE("a duration off by more than the tolerance is wrong_duration", "[verdict]") {
    auto m = good_file();
    m.duration = 4.0;
    m.last_video_pts = 4.0;
    auto v = evaluate(m, asked());
    CHECK(v.code == "wrong_duration");
    CHECK_THAT(v.message, Catch::Contains("4.00 s"));
    CHECK_THAT(v.message, Catch::Contains("asked for 8 s"));

    m.duration = 8.5;  // exactly at the tolerance
    m.last_video_pts = 8.5;
    CHECK(evaluate(m, asked()).ok);
    m.duration = 8.51;
    m.last_video_pts = 8.51;
    CHECK(evaluate(m, asked()).code == "wrong_duration");
    m.duration = 7.49;
    m.last_video_pts = 7.49;
    CHECK(evaluate(m, asked()).code == "wrong_duration");

    auto loose = asked();
    loose.duration_tolerance = Millis{1000};
    CHECK(evaluate(m, loose).ok);
}

TEST_CASE("a demux error before the end is truncated with the probe's words", "[verdict]") {
    auto m = good_file();
    m.demux_error = true;
    m.demux_message = "End of file";
    auto v = evaluate(m, asked());
    CHECK(v.code == "truncated");
    CHECK_THAT(v.message, Catch::Contains("End of file"));
}

TEST_CASE("fewer packets than the header's frame count is truncated", "[verdict]") {
    auto m = good_file();
    m.duration = 8.0;
    m.frames = 600;
    m.video_packets = 298;
    auto v = evaluate(m, asked());
    CHECK(v.code == "truncated");
    CHECK_THAT(v.message, Catch::Contains("298 of 600 packets"));

    m.frames = 0;  // unknown frame count: nothing to compare
    m.video_packets = 298;
    CHECK(evaluate(m, asked()).ok);
}

TEST_CASE("video ending well before the container's duration is truncated", "[verdict]") {
    auto m = good_file();
    m.frames = 0;  // fragmented files carry no frame count
    m.last_video_pts = 3.2;
    auto v = evaluate(m, asked());
    CHECK(v.code == "truncated");
    CHECK_THAT(v.message, Catch::Contains("3.20 s of 8.02 s"));

    m.last_video_pts = 7.6;  // within tolerance of 8.02
    CHECK(evaluate(m, asked()).ok);
}

TEST_CASE("a silent file is no_audio only when audio is required", "[verdict]") {
    auto m = good_file();
    m.has_audio = false;
    CHECK(evaluate(m, asked()).ok);
    auto e = asked();
    e.require_audio = true;
    CHECK(evaluate(m, e).code == "no_audio");
    m.has_audio = true;
    CHECK(evaluate(m, e).ok);
}

TEST_CASE("the first failing check decides the code", "[verdict]") {
    auto m = good_file();
    m.width = 640;
    m.duration = 1;
    m.has_audio = false;
    auto e = asked();
    e.require_audio = true;
    CHECK(evaluate(m, e).code == "wrong_size");
    m.video_codec = "vp8";
    CHECK(evaluate(m, e).code == "bad_codec");
}

TEST_CASE("an expectation without size or seconds checks neither", "[verdict]") {
    auto m = good_file();
    m.width = 640;
    m.height = 360;
    m.duration = 20;
    m.last_video_pts = 20;
    CHECK(evaluate(m, Expectation{}).ok);
}
