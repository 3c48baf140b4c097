#include <catch2/catch.hpp>

#include "mock/image.hpp"
#include "mock/media.hpp"

using namespace vd::mock;

TEST_CASE("sniffer reads format and pixel size of PNG, JPEG and WebP", "[mock][image]") {
    struct Case {
        const char* codec;
        const char* kind;
    };
    for (auto [codec, kind] :
         {Case{"png", "png"}, Case{"mjpeg", "jpeg"}, Case{"libwebp", "webp"}}) {
        auto bytes = render_still(codec, {120, 68});
        REQUIRE(bytes);
        auto info = sniff_image(*bytes);
        INFO(codec);
        CHECK(info.kind == kind);
        CHECK(info.width == 120);
        CHECK(info.height == 68);
    }
}

TEST_CASE("sniffer reads lossless WebP (VP8L) headers", "[mock][image]") {
    // RIFF....WEBPVP8L + size + signature 0x2f + 14-bit width-1 and height-1.
    std::string b("RIFF\x1a\0\0\0WEBPVP8L\x0d\0\0\0\x2f", 21);
    b.append(std::string("\x1e\x40\x11\x00", 4));  // width 31, height 70: (30) | (69 << 14)
    b.resize(40, '\0');
    auto info = sniff_image(b);
    CHECK(info.kind == "webp");
    CHECK(info.width == 31);
    CHECK(info.height == 70);
}

TEST_CASE("sniffer gives no kind for text, GIF and empty input", "[mock][image]") {
    CHECK(sniff_image("hello world, not an image").kind.empty());
    CHECK(sniff_image("GIF89a\x01\x00\x01\x00").kind.empty());
    CHECK(sniff_image("").kind.empty());
}

TEST_CASE("sniffer survives a truncated JPEG and reports no size", "[mock][image]") {
    auto jpeg = render_still("mjpeg", {64, 32});
    REQUIRE(jpeg);
    auto info = sniff_image(jpeg->substr(0, 6));
    CHECK(info.kind == "jpeg");
    CHECK(info.width == 0);
}
