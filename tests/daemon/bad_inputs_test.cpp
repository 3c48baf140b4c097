// The bad-input corpus (tests/data/bad_inputs.json) dropped into a running `videodrop run`, one
// case at a time: each must end exactly as the corpus says, and the good manifest dropped after
// it must still be delivered.
#include <signal.h>
#include <sys/stat.h>
#include <zlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "mock/media.hpp"
#include "tests/daemon/child.hpp"
#include "tests/daemon/daemon_fixtures.hpp"

namespace vd {
namespace {

using namespace std::chrono_literals;
namespace stdfs = std::filesystem;
using nlohmann::json;

// A real PNG of 16x16 whose header claims 30000x30000 (its checksum fixed to match).
std::string bomb_png() {
    auto png = mock::render_still("png", Size{16, 16}, 0);
    REQUIRE(png);
    std::string b = *png;
    auto put32 = [&](size_t at, uint32_t v) {
        for (int i = 0; i < 4; ++i)
            b[at + i] = static_cast<char>((v >> (24 - 8 * i)) & 0xff);
    };
    put32(16, 30000);  // IHDR width
    put32(20, 30000);  // IHDR height
    uLong crc = crc32(0, reinterpret_cast<const Bytef*>(b.data() + 12), 17);
    put32(29, static_cast<uint32_t>(crc));
    return b;
}

std::string generated(const std::string& gen) {
    auto arg = gen.substr(gen.find(':') + 1);
    if (gen.starts_with("zeros:")) return std::string(std::stoul(arg), '\0');
    if (gen.starts_with("garbage:")) {
        std::mt19937 rng(7);
        std::string out(std::stoul(arg), '\0');
        for (char& c : out)
            c = static_cast<char>(rng() & 0xff);
        return out;
    }
    if (gen.starts_with("text:")) return std::string(std::stoul(arg), 'a');
    if (gen.starts_with("deep:")) {
        size_t n = std::stoul(arg);
        return "{\"prompt\": " + std::string(n, '[') + std::string(n, ']') + "}";
    }
    if (gen.starts_with("hex:")) {
        std::string out;
        for (size_t i = 0; i + 1 < arg.size(); i += 2)
            out += static_cast<char>(std::stoi(arg.substr(i, 2), nullptr, 16));
        return out;
    }
    if (gen.starts_with("png:")) {
        int w = std::stoi(arg), h = std::stoi(arg.substr(arg.find('x') + 1));
        auto png = mock::render_still("png", Size{w, h}, 1);
        REQUIRE(png);
        return *png;
    }
    if (gen == "bomb") return bomb_png();
    FAIL("unknown generator " << gen);
    return "";
}

// Writes one corpus file into the inbox (through a dotfile and a rename, as careful producers do).
void place(const stdfs::path& inbox, const stdfs::path& spool, const std::string& name,
           const json& value) {
    const stdfs::path dest = inbox / name;
    if (value.is_object()) {
        const std::string gen = value["gen"];
        if (gen == "fifo") {
            REQUIRE(::mkfifo(dest.c_str(), 0644) == 0);
            return;
        }
        if (gen == "dir") {
            stdfs::create_directory(dest);
            return;
        }
        if (gen.starts_with("symlink:")) {
            stdfs::path target = gen.substr(8);
            stdfs::create_symlink(target.is_absolute() ? target : spool / target, dest);
            return;
        }
    }
    const std::string bytes =
        value.is_string() ? value.get<std::string>() : generated(value["gen"]);
    const stdfs::path tmp = inbox / ("." + name + ".tmp");
    std::ofstream(tmp, std::ios::binary) << bytes;
    stdfs::rename(tmp, dest);
}

bool wait_until(const std::function<bool()>& ok, std::chrono::milliseconds limit) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
        if (ok()) return true;
        std::this_thread::sleep_for(20ms);
    }
    return ok();
}

TEST_CASE("every case of the bad-input corpus ends as expected and the next job is served",
          "[corpus][daemon]") {
    std::ifstream in(VD_SOURCE_DIR "/tests/data/bad_inputs.json");
    const json corpus = json::parse(in);
    REQUIRE(corpus["cases"].size() >= 40);

    mock::Server server(mock_options());
    server.start();
    Spool s;
    std::ofstream(s.root / "elsewhere.json") << R"({"prompt": "not in the inbox"})";
    std::string toml = R"(
[paths]
inbox = ")" + s.inbox().string() +
                       R"("
outbox = ")" + s.outbox().string() +
                       R"("
failed = ")" + s.failed().string() +
                       R"("
state = ")" + (s.root / "state").string() +
                       R"("

[defaults]
provider = "mock"
model = "tiny"
seconds = 1
size = "160x90"

[providers.mock]
base_url = ")" + server.base_url() +
                       R"("
api_key_env = "VD_CORPUS_KEY"
submits_per_minute = 600
max_in_flight = 16

[providers.mock.models.tiny]
seconds = [1, 2]
sizes = ["160x90", "90x160"]
usd_per_second = 0.05

[intake]
settle = "50ms"
rescan = "1s"
max_manifest_bytes = 1000000
max_image_bytes = 1000000

[polling]
min_interval = "50ms"
max_interval = "500ms"
)";
    const stdfs::path config = s.root / "videodrop.toml";
    std::ofstream(config) << toml;
    pid_t daemon =
        test::spawn({VD_BINARY, "--config", config.string(), "run"}, "VD_CORPUS_KEY", "sk-test");

    int n = 0;
    for (const auto& c : corpus["cases"]) {
        ++n;
        const std::string what = c["case"];
        INFO("case " << n << ": " << what);
        const json& expect = c["expect"];
        std::vector<std::string> names;
        if (c.contains("files"))
            for (const auto& [name, value] : c["files"].items()) {
                place(s.inbox(), s.root, name, value);
                names.push_back(name);
            }
        const std::string special = c.value("special", "");
        if (special == "slow_writer") {
            std::ofstream out(s.inbox() / "slowly.json");
            out << R"({"prompt": "written in )" << std::flush;
            std::this_thread::sleep_for(600ms);  // twelve times the settle time, held open
            out << R"(two goes"})" << std::flush;
        } else if (special == "delete_at_once") {
            std::ofstream(s.inbox() / "vanish.json") << R"({"prompt": "gone"})";
            stdfs::remove(s.inbox() / "vanish.json");
        } else if (special == "recreate_inbox") {
            stdfs::remove_all(s.inbox());
            std::this_thread::sleep_for(200ms);
            stdfs::create_directory(s.inbox());
        }
        // The next good job must still be served.
        const std::string good = "good-" + std::to_string(n);
        s.drop(good + ".json", R"({"prompt": "a good job after a bad one"})");
        CHECK(wait_until([&] { return stdfs::exists(s.outbox() / (good + ".json")); }, 20s));

        if (expect.is_string() && expect == "ignored") {
            for (const auto& name : names)
                CHECK(stdfs::exists(stdfs::symlink_status(s.inbox() / name)));
        } else if (expect.is_string() && expect == "gone") {
            CHECK_FALSE(stdfs::exists(s.failed() / "vanish.error.json"));
        } else if (expect.contains("delivered")) {
            for (const auto& out : expect["delivered"]) {
                const stdfs::path mp4 = s.outbox() / out.get<std::string>();
                CHECK(wait_until([&] { return stdfs::exists(mp4); }, 20s));
            }
            if (special == "slow_writer") {
                // The sidecar is published after the video: it is the sign that all is there.
                REQUIRE(wait_until([&] { return stdfs::exists(s.outbox() / "slowly.json"); }, 20s));
                CHECK(read_json(s.outbox() / "slowly.json")["request"]["prompt"] ==
                      "written in two goes");
            }
        } else {
            // The error file is named after the manifest (the first file that is one).
            std::string manifest;
            for (const auto& name : names)
                if (stdfs::path(name).extension() != ".png") manifest = name;
            const std::string stem = stdfs::path(manifest).stem().string();
            const stdfs::path error = s.failed() / (stem + ".error.json");
            REQUIRE(wait_until([&] { return stdfs::exists(error); }, 10s));
            const json e = read_json(error);
            INFO(e.dump(2));
            CHECK(e["error"]["stage"] == expect["stage"]);
            CHECK(e["error"]["code"] == expect["code"]);
            CHECK_FALSE(e["error"]["message"].get<std::string>().empty());
            CHECK(stdfs::exists(stdfs::symlink_status(s.failed() / manifest)));
            for (const auto& f : c.value("also_failed", json::array())) {
                CHECK(stdfs::exists(s.failed() / f.get<std::string>()));
                CHECK_FALSE(stdfs::exists(s.inbox() / f.get<std::string>()));
            }
        }
    }
    ::kill(daemon, SIGTERM);
    CHECK(test::wait_at_most(daemon, 10s) == std::optional<int>(0));
}

}  // namespace
}  // namespace vd
