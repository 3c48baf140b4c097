#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include <unistd.h>

#include <catch2/catch.hpp>

#include "daemon/image_fit.hpp"

namespace fs = std::filesystem;

namespace {

// Fixtures are made once per run with the ffmpeg CLI, in a folder removed at exit.
struct TempDir {
    fs::path path = fs::temp_directory_path() / ("vd-image-test-" + std::to_string(::getpid()));
    TempDir() { fs::create_directories(path); }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
};

std::string temp(const std::string& name) {
    static TempDir dir;
    return (dir.path / name).string();
}

void run_ffmpeg(const std::string& args) {
    std::string cmd = "ffmpeg -nostdin -hide_banner -loglevel error -y " + args;
    REQUIRE(std::system(cmd.c_str()) == 0);
}

// One still image from a lavfi source, e.g. make_image("a.png", "testsrc=size=640x480").
std::string make_image(const std::string& name, const std::string& source,
                       const std::string& extra = "") {
    std::string path = temp(name);
    if (!fs::exists(path))
        run_ffmpeg("-f lavfi -i " + source + " -frames:v 1 " + extra + " '" + path + "'");
    return path;
}

// 400x100: red 100 px | green 200 px | blue 100 px.
std::string make_stripes() {
    std::string path = temp("stripes.png");
    if (!fs::exists(path))
        run_ffmpeg(
            "-f lavfi -i color=red:s=100x100 -f lavfi -i color=green:s=200x100 "
            "-f lavfi -i color=blue:s=100x100 -filter_complex hstack=inputs=3 "
            "-frames:v 1 '" +
            path + "'");
    return path;
}

std::string read_all(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}

// The JPEG with an EXIF orientation tag (1-8) right after its start marker, as cameras write it.
std::string with_orientation(const std::string& jpeg, int orientation) {
    auto le16 = [](int v) { return std::string{char(v & 0xff), char(v >> 8)}; };
    auto le32 = [&](int v) { return le16(v & 0xffff) + le16(v >> 16); };
    std::string tiff = "II*" + std::string(1, '\0') + le32(8) + le16(1) + le16(0x0112) + le16(3) +
                       le32(1) + le16(orientation) + le16(0) + le32(0);
    std::string app1 = std::string("Exif\0\0", 6) + tiff;
    int length = static_cast<int>(app1.size()) + 2;
    std::string segment = "\xff\xe1" + std::string{char(length >> 8), char(length & 0xff)} + app1;
    return jpeg.substr(0, 2) + segment + jpeg.substr(2);
}

// The decoded pixels of an image, as the ffmpeg CLI sees them.
struct Pixels {
    std::string bytes;
    int width = 0;
    int channels = 3;
    const unsigned char* at(int x, int y) const {
        return reinterpret_cast<const unsigned char*>(bytes.data()) +
               (static_cast<size_t>(y) * width + x) * channels;
    }
};

Pixels pixels(const std::string& png, int width, const std::string& pix_fmt = "rgb24") {
    std::string raw = png + ".raw";
    run_ffmpeg("-i '" + png + "' -f rawvideo -pix_fmt " + pix_fmt + " '" + raw + "'");
    return Pixels{read_all(raw), width, pix_fmt == "rgba" ? 4 : 3};
}

bool is_png(const std::string& path) {
    return read_all(path).rfind("\x89PNG\r\n\x1a\n", 0) == 0;
}

// Red, green, blue or black, within what colour conversions blur.
char colour(const unsigned char* p) {
    if (p[0] < 40 && p[1] < 40 && p[2] < 40) return 'k';
    if (p[0] > 200 && p[1] < 60 && p[2] < 60) return 'r';
    if (p[1] > 100 && p[0] < 60 && p[2] < 60) return 'g';
    if (p[2] > 200 && p[0] < 60 && p[1] < 60) return 'b';
    return '?';
}

}  // namespace

TEST_CASE("cover and contain turn PNG, JPEG and WebP of another size into a PNG of the target size",
          "[image]") {
    auto [name, extra] = GENERATE(table<std::string, std::string>({
        {"wide.png", ""},
        {"tall.jpg", ""},
        {"square.webp", "-c:v libwebp"},
    }));
    std::string src = make_image(name,
                                 "testsrc=size=" + std::string(name == "wide.png"   ? "640x480"
                                                               : name == "tall.jpg" ? "300x500"
                                                                                    : "200x200"),
                                 extra);
    std::string fit = GENERATE(as<std::string>{}, "cover", "contain");
    std::string dest = temp(name + "." + fit + ".png");

    auto result = vd::fit_image(src, {1280, 720}, fit, dest);
    REQUIRE(result);
    CHECK(result->resized);
    CHECK(result->fit_used == fit);
    CHECK(is_png(dest));
    auto size = vd::image_size(dest);
    REQUIRE(size);
    CHECK(*size == vd::Size{1280, 720});
}

TEST_CASE("cover centre-crops a wide image", "[image]") {
    std::string dest = temp("stripes.cover.png");
    auto result = vd::fit_image(make_stripes(), {160, 90}, "cover", dest);
    REQUIRE(result);
    CHECK(result->original == vd::Size{400, 100});
    // Only the green middle survives the crop to 16:9.
    Pixels px = pixels(dest, 160);
    REQUIRE(px.bytes.size() == 160u * 90 * 3);
    for (auto [x, y] : {std::pair{0, 0}, {159, 0}, {80, 45}, {0, 89}, {159, 89}})
        CHECK(colour(px.at(x, y)) == 'g');
}

TEST_CASE("contain letterboxes a wide image in black", "[image]") {
    std::string dest = temp("stripes.contain.png");
    REQUIRE(vd::fit_image(make_stripes(), {160, 90}, "contain", dest));
    // 400x100 scales to 160x40, centred: rows 25..64 hold the picture.
    Pixels px = pixels(dest, 160);
    REQUIRE(px.bytes.size() == 160u * 90 * 3);
    CHECK(colour(px.at(80, 5)) == 'k');
    CHECK(colour(px.at(80, 85)) == 'k');
    CHECK(colour(px.at(5, 45)) == 'r');
    CHECK(colour(px.at(80, 45)) == 'g');
    CHECK(colour(px.at(155, 45)) == 'b');
}

TEST_CASE("contain keeps transparency and pads with opaque black", "[image]") {
    std::string src = make_image("half-red.png", "color=red@0.5:s=64x64,format=rgba");
    std::string dest = temp("half-red.contain.png");
    REQUIRE(vd::fit_image(src, {128, 64}, "contain", dest));
    Pixels px = pixels(dest, 128, "rgba");
    REQUIRE(px.bytes.size() == 128u * 64 * 4);
    CHECK(int(px.at(5, 32)[3]) == 255);  // padding
    CHECK(int(px.at(64, 32)[0]) > 200);
    CHECK(int(px.at(64, 32)[3]) == Approx(128).margin(2));
}

TEST_CASE("an image of exactly the target size is re-encoded as PNG, not resized", "[image]") {
    std::string src = make_image("exact.jpg", "testsrc=size=320x180");
    std::string fit = GENERATE(as<std::string>{}, "exact", "cover", "contain");
    std::string dest = temp("exact." + fit + ".png");
    auto result = vd::fit_image(src, {320, 180}, fit, dest);
    REQUIRE(result);
    CHECK_FALSE(result->resized);
    CHECK(result->original == vd::Size{320, 180});
    CHECK(is_png(dest));
    CHECK(vd::image_size(dest) == vd::Size{320, 180});
}

TEST_CASE("exact rejects an image of another size and says what to do", "[image]") {
    std::string dest = temp("rejected.png");
    auto result =
        vd::fit_image(make_image("wide.png", "testsrc=size=640x480"), {1280, 720}, "exact", dest);
    REQUIRE_FALSE(result);
    CHECK(result.error() ==
          "wide.png: image is 640x480 but the job's size is 1280x720; resize it, or set "
          "image_fit = \"cover\" or \"contain\"");
    CHECK_FALSE(fs::exists(dest));
}

TEST_CASE("a text file named .png is refused as not an image", "[image]") {
    std::string src = temp("notes.png");
    std::ofstream(src) << "just some words\n";
    auto result = vd::fit_image(src, {1280, 720}, "cover", temp("notes.out.png"));
    REQUIRE_FALSE(result);
    CHECK(result.error() == "notes.png: not a PNG, JPEG or WebP image; convert it to one of those");
    CHECK_FALSE(vd::image_size(src));
}

TEST_CASE("a truncated PNG is refused as undecodable", "[image]") {
    std::string bytes = read_all(make_image("wide.png", "testsrc=size=640x480"));
    std::string src = temp("cut.png");
    std::ofstream(src, std::ios::binary) << bytes.substr(0, 100);
    auto size = vd::image_size(src);
    REQUIRE_FALSE(size);
    CHECK(size.error().rfind("cut.png: cannot decode the image", 0) == 0);
}

TEST_CASE("a missing image and an unknown fit name the file", "[image]") {
    auto missing = vd::image_size(temp("nowhere.png"));
    REQUIRE_FALSE(missing);
    CHECK(missing.error().rfind("nowhere.png: cannot read the image", 0) == 0);

    auto bad_fit = vd::fit_image(make_image("wide.png", "testsrc=size=640x480"), {1280, 720},
                                 "stretch", temp("x.png"));
    REQUIRE_FALSE(bad_fit);
    CHECK(bad_fit.error() ==
          "wide.png: image_fit is \"stretch\"; use \"cover\", \"contain\" or \"exact\"");
}

TEST_CASE("image_size reads PNG, JPEG and WebP", "[image]") {
    CHECK(vd::image_size(make_image("wide.png", "testsrc=size=640x480")) == vd::Size{640, 480});
    CHECK(vd::image_size(make_image("tall.jpg", "testsrc=size=300x500")) == vd::Size{300, 500});
    CHECK(vd::image_size(make_image("square.webp", "testsrc=size=200x200", "-c:v libwebp")) ==
          vd::Size{200, 200});
}

TEST_CASE("a JPEG with an EXIF orientation is turned upright before fitting", "[image]") {
    auto [orientation, width, height, order] = GENERATE(table<int, int, int, std::string>({
        {1, 300, 100, "rgb"},
        {2, 300, 100, "bgr"},  // mirrored
        {3, 300, 100, "bgr"},  // upside down
        {6, 100, 300, "rgb"},  // needs a quarter turn clockwise: the left edge goes on top
        {8, 100, 300, "bgr"},
        {5, 100, 300, "rgb"},  // transposed
        {7, 100, 300, "bgr"},
    }));
    std::string stripes = temp("stripes-300.jpg");
    if (!fs::exists(stripes))
        run_ffmpeg(
            "-f lavfi -i color=red:s=100x100 -f lavfi -i color=green:s=100x100 "
            "-f lavfi -i color=blue:s=100x100 -filter_complex hstack=inputs=3 "
            "-frames:v 1 -q:v 2 '" +
            stripes + "'");
    std::string src = temp("oriented-" + std::to_string(orientation) + ".jpg");
    std::ofstream(src, std::ios::binary) << with_orientation(read_all(stripes), orientation);

    CHECK(vd::image_size(src) == vd::Size{width, height});
    std::string dest = temp("oriented-" + std::to_string(orientation) + ".png");
    auto result = vd::fit_image(src, {width, height}, "exact", dest);
    REQUIRE(result);
    CHECK_FALSE(result->resized);
    Pixels px = pixels(dest, width);
    REQUIRE(px.bytes.size() == size_t(width) * height * 3);
    std::string seen;
    for (int i = 0; i < 3; ++i)
        seen += colour(width > height ? px.at(50 + 100 * i, 50) : px.at(50, 50 + 100 * i));
    CHECK(seen == order);
}
