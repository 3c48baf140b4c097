#include <catch2/catch.hpp>

#include "mock/image.hpp"
#include "mock/media.hpp"
#include "tests/mock/mp4_probe.hpp"

using namespace vd;
using namespace vd::mock;

TEST_CASE("rendered MP4 is H.264 and AAC of the requested size and duration", "[mock][media]") {
    auto media = render_media({160, 90}, 2);
    REQUIRE(media);
    CHECK(media->mp4.substr(4, 4) == "ftyp");
    auto info = test::probe_mp4(media->mp4);
    REQUIRE(info.opened);
    CHECK(info.video_codec == "h264");
    CHECK(info.audio_codec == "aac");
    CHECK(info.width == 160);
    CHECK(info.height == 90);
    CHECK(info.duration == Approx(2.0).margin(0.05));
    CHECK(info.video_packets == 2 * kFps);
}

TEST_CASE("rendered MP4 is faststart: the moov box comes before mdat", "[mock][media]") {
    auto media = render_media({96, 160}, 1);
    REQUIRE(media);
    auto moov = media->mp4.find("moov"), mdat = media->mp4.find("mdat");
    REQUIRE(moov != std::string::npos);
    REQUIRE(mdat != std::string::npos);
    CHECK(moov < mdat);
}

TEST_CASE("thumbnail and spritesheet are images the sniffer reads", "[mock][media]") {
    auto media = render_media({160, 90}, 1);
    REQUIRE(media);
    auto thumb = sniff_image(media->thumbnail);
    CHECK(thumb.kind == (media->thumbnail_type == "image/webp" ? "webp" : "jpeg"));
    CHECK(thumb.width == 160);
    CHECK(thumb.height == 90);
    auto sheet = sniff_image(media->spritesheet);
    CHECK(sheet.kind == "jpeg");
    CHECK(sheet.width == 5 * 160);
}

TEST_CASE("odd sizes and zero seconds are refused instead of rendered", "[mock][media]") {
    CHECK_FALSE(render_media({161, 90}, 1));
    CHECK_FALSE(render_media({160, 90}, 0));
}

TEST_CASE("frames differ over time: the picture moves", "[mock][media]") {
    auto a = render_still("png", {64, 36}, 0.0), b = render_still("png", {64, 36}, 1.0);
    REQUIRE(a);
    REQUIRE(b);
    CHECK(*a != *b);
}
