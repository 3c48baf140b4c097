#include <filesystem>
#include <fstream>
#include <string>

#include <unistd.h>

#include <catch2/catch.hpp>

#include "daemon/sha256.hpp"

namespace fs = std::filesystem;

TEST_CASE("sha256_hex of \"abc\" is the FIPS 180-2 vector", "[sha256]") {
    CHECK(vd::sha256_hex("abc") ==
          "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK(vd::sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST_CASE("sha256_file of a multi-chunk file equals sha256_hex of its bytes", "[sha256]") {
    // Larger than the read buffer and not a multiple of it, with every byte value.
    std::string data;
    for (int i = 0; i < 200'003; ++i)
        data.push_back(static_cast<char>((i * 7919) & 0xff));
    fs::path path = fs::temp_directory_path() / ("vd-sha256-" + std::to_string(::getpid()));
    std::ofstream(path, std::ios::binary) << data;

    auto hex = vd::sha256_file(path.string());
    fs::remove(path);
    REQUIRE(hex);
    CHECK(*hex == vd::sha256_hex(data));
}

TEST_CASE("sha256_file of a missing file names the file", "[sha256]") {
    auto hex = vd::sha256_file("/nonexistent/videodrop/x.mp4");
    REQUIRE_FALSE(hex);
    CHECK(hex.error().find("/nonexistent/videodrop/x.mp4") != std::string::npos);
}
