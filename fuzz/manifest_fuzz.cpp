// Manifests as they arrive in the inbox: the first byte picks .json, .toml or .txt, the rest is
// the file. read_manifest must answer with a JobSpec or problems, never crash or hang.
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "config/config.hpp"
#include "config/manifest.hpp"

namespace {

const vd::Config& config() {
    static const vd::Config cfg = [] {
        auto parsed = vd::parse_config(R"(
[defaults]
provider = "p"
model = "m"
seconds = 4
size = "1280x720"

[providers.p]
base_url = "http://127.0.0.1:9/v1"

[providers.p.models.m]
seconds = [4, 8]
sizes = ["1280x720", "720x1280"]
usd_per_second = 0.1
)",
                                       "fuzz.toml");
        return *parsed;
    }();
    return cfg;
}

const std::string& dir() {
    static const std::string d = [] {
        std::string path = "/tmp/vd-fuzz-manifest-" + std::to_string(::getpid());
        std::filesystem::create_directories(path);
        std::ofstream(path + "/ref.png") << "\x89PNG\r\n\x1a\n";
        return path;
    }();
    return d;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    static const char* kinds[] = {".json", ".toml", ".txt"};
    const std::string path = dir() + "/job" + kinds[data[0] % 3];
    {
        std::ofstream out(path, std::ios::binary | std::ios::trunc);
        out.write(reinterpret_cast<const char*>(data + 1), static_cast<std::streamsize>(size - 1));
    }
    auto spec = vd::read_manifest(path, dir(), config());
    if (!spec)
        for (const auto& p : spec.error())
            if (p.code.empty() || p.message.empty()) __builtin_trap();  // every problem explained
    return 0;
}
