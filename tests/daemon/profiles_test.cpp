// Every shipped provider profile (config/providers/NAME.toml) end to end: the mock speaks that
// profile's dialect (its --dialect of the same name) and `videodrop once`, configured with
// nothing but `profile = "NAME"`, creates (text and image), polls, downloads, verifies and
// publishes; a create whose answer is lost is found again in the dialect's list, or fails as
// ambiguous where there is none, never sent twice. Then what some dialects add: 202 with a
// polling_url, signed links that expire and must not get the key, the billed cost.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "config/config.hpp"
#include "config/profiles.hpp"
#include "mock/media.hpp"
#include "mock/mock.hpp"
#include "pipeline/protocol.hpp"
#include "tests/daemon/child.hpp"
#include "tests/daemon/daemon_fixtures.hpp"

namespace vd {

namespace {

std::string config_for(const Spool& s, const std::string& base_url, const std::string& profile) {
    const std::string root = s.root.string();
    std::string text = "[paths]\ninbox = \"" + root + "/inbox\"\noutbox = \"" + root +
                       "/outbox\"\nfailed = \"" + root + "/failed\"\nstate = \"" + root +
                       "/state\"\n[defaults]\nprovider = \"gw\"\nmodel = \"tiny\"\nseconds = 1\n"
                       "size = \"160x90\"\n[providers.gw]\nprofile = \"" +
                       profile + "\"\nbase_url = \"" + base_url +
                       "\"\napi_key_env = \"VD_PROFILE_KEY\"\nsubmits_per_minute = 600\n"
                       "[providers.gw.models.tiny]\nseconds = [1, 2]\n"
                       "sizes = [\"160x90\", \"90x160\"]\nusd_per_second = 0.05\n"
                       "[intake]\nsettle = \"50ms\"\n[polling]\nmin_interval = \"100ms\"\n"
                       "max_interval = \"500ms\"\n";
    auto path = s.root / "videodrop.toml";
    std::ofstream(path) << text;
    return path.string();
}

test::ShellRun once(const std::string& cfg) {
    return test::run_shell("VD_PROFILE_KEY=sk-test '" + std::string(VD_BINARY) + "' --config '" +
                           cfg + "' once 2>&1");
}

// Whether the profile's servers have a list to find a lost create in.
bool profile_lists(const std::string& name) {
    auto cfg = parse_config("[providers.gw]\nprofile = \"" + name +
                                "\"\nbase_url = \"https://gw.example/v1\"\n"
                                "[providers.gw.models.m]\nseconds = [4]\nsizes = [\"1280x720\"]\n"
                                "[defaults]\nprovider = \"gw\"\nmodel = \"m\"\n",
                            "t.toml");
    REQUIRE(cfg);
    const auto& p = cfg->providers.at("gw").core;
    return protocol::find(p.protocol)->lists(p);
}

}  // namespace

TEST_CASE("every shipped profile delivers from the mock speaking its dialect", "[profiles]") {
    REQUIRE(shipped_profiles().size() >= 6);
    for (const auto& profile : shipped_profiles()) {
        const std::string name(profile.name);
        SECTION(name) {
            auto o = mock_options();
            o.dialect = name;  // the mock's dialects carry the profiles' names
            mock::Server server(o);
            server.start();
            Spool s;
            auto still = mock::render_still("png", Size{64, 64}, 0);
            REQUIRE(still);
            std::ofstream(s.inbox() / "ref.png", std::ios::binary) << *still;
            s.drop("lake.json", R"({"prompt": "a calm lake"})");
            s.drop("hill.json", R"({"prompt": "a green hill", "seconds": 2, "aspect": "9:16"})");
            s.drop("pier.json", R"({"prompt": "a pier from a photo", "image": "ref.png"})");
            auto run = once(config_for(s, server.base_url(), name));
            INFO(name << "\n" << run.output);
            CHECK(run.code == 0);
            CHECK(s.files(s.failed()).empty());
            require_good_video(s.outbox() / "lake.mp4", {160, 90}, 1);
            require_good_video(s.outbox() / "hill.mp4", {90, 160}, 2);
            require_good_video(s.outbox() / "pier.mp4", {160, 90}, 1);
            CHECK(server.videos_created() == 3);
            bool image_sent = false;
            for (const auto& r : server.requests()) {
                CHECK(r.status != 404);  // every request went to a path of the dialect
                CHECK(r.status != 400);  // and said what the dialect's servers take
                // The image arrived, in the dialect's field, fitted to the job's size.
                for (const auto& f : r.files)
                    image_sent |= f.width == 160 && f.height == 90 && f.kind == "png";
            }
            CHECK(image_sent);
        }
    }
}

TEST_CASE("with every profile a lost create answer is adopted from the list, not resent",
          "[profiles]") {
    for (const auto& profile : shipped_profiles()) {
        const std::string name(profile.name);
        SECTION(name) {
            auto o = mock_options();
            o.dialect = name;
            o.lost_rate = 1.0;  // every create makes its video and drops the connection
            mock::Server server(o);
            server.start();
            Spool s;
            s.drop("river.json", R"({"prompt": "a river in the rain"})");
            auto run = once(config_for(s, server.base_url(), name));
            INFO(name << "\n" << run.output);
            CHECK(server.videos_created() == 1);
            bool listed = false;
            for (const auto& r : server.requests())
                listed |= r.method == "GET" && (r.path == "/v1/videos" || r.path == "/v1/jobs");
            if (profile_lists(name)) {
                CHECK(run.code == 0);
                CHECK(std::filesystem::exists(s.outbox() / "river.mp4"));
                CHECK(listed);
                CHECK(run.output.find("adopted") != std::string::npos);
            } else {
                // Nothing to look in: the job fails as ambiguous, and the create is not resent.
                CHECK_FALSE(listed);
                auto error = read_json(s.failed() / "river.error.json");
                CHECK(error["error"]["code"] == "ambiguous_create");
                CHECK_THAT(error["error"]["message"].get<std::string>(),
                           Catch::Contains("the provider has no list") &&
                               Catch::Contains("not sending another"));
            }
        }
    }
}

TEST_CASE(
    "openrouter: 202 and polling_url, signed links fetched without the key, the billed "
    "cost in the sidecar",
    "[profiles]") {
    auto o = mock_options();
    o.dialect = "openrouter";
    mock::Server server(o);
    server.start();
    Spool s;
    s.drop("reef.json", R"({"prompt": "a coral reef", "seconds": 2})");
    auto run = once(config_for(s, server.base_url(), "openrouter"));
    INFO(run.output);
    REQUIRE(run.code == 0);
    size_t files = 0, polls = 0;
    for (const auto& r : server.requests()) {
        if (r.method == "POST") {
            CHECK(r.status == 202);
            CHECK(r.fields["aspect_ratio"] == "16:9");
            CHECK(r.fields["resolution"] == "90p");
            CHECK(r.fields["duration"] == 2);
        }
        if (r.path.rfind("/v1/files/", 0) == 0) {
            ++files;
            CHECK(r.key_hash.empty());  // the key never goes with a signed link
            CHECK(r.status == 200);
        }
        polls += r.method == "GET" && r.path.rfind("/v1/videos/video_", 0) == 0;
    }
    CHECK(files == 1);
    CHECK(polls >= 1);
    auto sidecar = read_json(s.outbox() / "reef.json");
    CHECK(sidecar["cost"]["usd"] == Approx(0.10));
    CHECK(sidecar["cost"]["reported_usd"] == Approx(0.10));  // usage.cost: 2 s x 0.05
}

TEST_CASE("an expired signed link is read again before the next fetch, never fetched stale",
          "[profiles]") {
    for (const std::string name : {"openrouter", "json-content"}) {
        SECTION(name) {
            auto o = mock_options();
            o.dialect = name;
            o.link_ttl = Millis{1000};
            o.truncate_rate = 1.0;  // the first fetch breaks off halfway
            mock::Server server(o);
            server.start();
            Spool s;
            s.drop("dawn.json", R"({"prompt": "dawn over a bay"})");
            // The retry comes 3 s later, when the first link has expired.
            auto cfg = config_for(s, server.base_url(), name);
            std::ofstream(cfg, std::ios::app) << "[verify]\ndownload_backoff = \"3s\"\n";
            test::ShellRun run;
            std::thread daemon([&] { run = once(cfg); });
            auto file_fetches = [&] {
                size_t n = 0;
                for (const auto& r : server.requests())
                    n += r.path.rfind("/v1/files/", 0) == 0;
                return n;
            };
            for (int i = 0; i < 500 && file_fetches() == 0; ++i)
                std::this_thread::sleep_for(std::chrono::milliseconds(20));
            server.update([](mock::Options& x) { x.truncate_rate = 0; });
            daemon.join();
            INFO(run.output);
            CHECK(run.code == 0);
            require_good_video(s.outbox() / "dawn.mp4", {160, 90}, 1);
            std::vector<std::string> after_first;  // what came after the broken fetch
            bool broken_seen = false;
            for (const auto& r : server.requests()) {
                CHECK(r.status != 403);  // no expired link was ever fetched
                if (broken_seen) after_first.push_back(r.method + " " + r.path);
                broken_seen |= r.fault == "truncated";
            }
            REQUIRE(after_first.size() >= 2);
            // A fresh link is read (the video, or its content endpoint) before the next fetch.
            CHECK(after_first.front().rfind("GET /v1/videos/", 0) == 0);
            CHECK(after_first.back().rfind("GET /v1/files/", 0) == 0);
        }
    }
}

TEST_CASE("a signed link that refuses is a failed fetch read anew, not a bad key", "[profiles]") {
    auto o = mock_options();
    o.dialect = "openrouter";
    o.link_ttl = Millis{-60000};  // every link is handed out already expired
    mock::Server server(o);
    server.start();
    Spool s;
    s.drop("fog.json", R"({"prompt": "fog on a lake"})");
    auto cfg = config_for(s, server.base_url(), "openrouter");
    std::ofstream(cfg, std::ios::app)
        << "[verify]\nmax_download_attempts = 3\ndownload_backoff = \"200ms\"\n";
    auto run = once(cfg);
    INFO(run.output);
    CHECK(run.code != 0);
    auto error = read_json(s.failed() / "fog.error.json");
    CHECK(error["error"]["stage"] == "download");
    CHECK(error["error"]["code"] == "link_refused_403");
    CHECK_THAT(error["error"]["message"].get<std::string>(), Catch::Contains("fetch 3 of 3"));
    CHECK(run.output.find("paused") == std::string::npos);  // the key was never in question
    size_t fetches = 0, reads_between = 0;
    bool fetched = false;
    for (const auto& r : server.requests()) {
        if (r.path.rfind("/v1/files/", 0) == 0) {
            ++fetches;
            fetched = true;
        } else if (fetched && r.method == "GET" && r.path.rfind("/v1/videos/", 0) == 0) {
            ++reads_between;  // the video read again for a new link
            fetched = false;
        }
    }
    CHECK(fetches == 3);
    CHECK(reads_between == 2);
}

TEST_CASE("the generations-jobs profile never touches the reference paths", "[profiles]") {
    auto o = mock_options();
    o.dialect = "generations-jobs";
    mock::Server server(o);
    server.start();
    Spool s;
    s.drop("dune.json", R"({"prompt": "a dune at noon"})");
    auto run = once(config_for(s, server.base_url(), "generations-jobs"));
    INFO(run.output);
    CHECK(run.code == 0);
    bool created = false;
    for (const auto& r : server.requests()) {
        created |= r.method == "POST" && r.path == "/v1/videos/generations";
        if (r.path.rfind("/v1/models", 0) != 0 && r.path != "/v1/videos/generations")
            CHECK(r.path.rfind("/v1/jobs", 0) == 0);
    }
    CHECK(created);
}

TEST_CASE("a profile is a base the provider's own dialect keys override", "[profiles][config]") {
    auto cfg = parse_config(
        "[providers.gw]\nprofile = \"generations-jobs\"\nbase_url = \"https://gw.example/v1\"\n"
        "[providers.gw.dialect]\nrunning_words = [\"rendering\"]\n"
        "[providers.gw.dialect.paths]\nget = \"/tasks/{id}\"\n"
        "[providers.gw.models.m]\nseconds = [4]\nsizes = [\"1280x720\"]\n"
        "[defaults]\nprovider = \"gw\"\nmodel = \"m\"\n",
        "t.toml");
    REQUIRE(cfg);
    const auto& d = cfg->providers.at("gw").core.dialect;
    CHECK(d.paths.create == "/videos/generations");  // from the profile
    CHECK(d.paths.get == "/tasks/{id}");             // the provider's own
    CHECK(d.running_words == std::vector<std::string>{"rendering"});
    CHECK(cfg->providers.at("gw").profile == "generations-jobs");
}

TEST_CASE("an unknown profile and bad paths are named with the fix", "[profiles][config]") {
    auto unknown = parse_config(
        "[providers.gw]\nprofile = \"openrouterx\"\nbase_url = \"https://gw.example/v1\"\n"
        "[providers.gw.models.m]\nseconds = [4]\nsizes = [\"1280x720\"]\n",
        "t.toml");
    REQUIRE_FALSE(unknown);
    CHECK_THAT(unknown.error(), Catch::Contains("providers.gw.profile") &&
                                    Catch::Contains("\"openrouterx\" is not a shipped profile") &&
                                    Catch::Contains("\"new-api\""));
    auto paths = parse_config(
        "[providers.gw]\nbase_url = \"https://gw.example/v1\"\n"
        "[providers.gw.dialect.paths]\nget = \"/jobs\"\ncreate = \"videos\"\n"
        "list = \"/jobs/{id}\"\n"
        "[providers.gw.models.m]\nseconds = [4]\nsizes = [\"1280x720\"]\n",
        "t.toml");
    REQUIRE_FALSE(paths);
    CHECK_THAT(paths.error(), Catch::Contains("providers.gw.dialect.paths.get") &&
                                  Catch::Contains("must contain {id}"));
    CHECK_THAT(paths.error(), Catch::Contains("providers.gw.dialect.paths.create") &&
                                  Catch::Contains("must start with '/'"));
    CHECK_THAT(paths.error(), Catch::Contains("providers.gw.dialect.paths.list") &&
                                  Catch::Contains("cannot contain {id}"));
}

TEST_CASE("ids are percent-encoded into the dialect's paths", "[profiles][protocol]") {
    ProviderSettings p;
    p.base_url = "https://gw.example/v1/";
    p.dialect.paths.get = "/jobs/{id}";
    p.dialect.paths.content = "/jobs/{id}/result";
    const auto& proto = *protocol::find("openai-videos");
    CHECK(proto.status(p, "job:a/b+c=", 0).url == "https://gw.example/v1/jobs/job%3Aa%2Fb%2Bc%3D");
    CHECK(proto.content(p, "x y", "video", 0).url ==
          "https://gw.example/v1/jobs/x%20y/result?variant=video");
}

}  // namespace vd

namespace vd {

TEST_CASE("the dialect keys of size, image, result and list are read and checked",
          "[profiles][config]") {
    auto cfg = parse_config(
        "[providers.gw]\nprofile = \"openrouter\"\nbase_url = \"https://openrouter.ai/api/v1\"\n"
        "[providers.gw.models.m]\nseconds = [4]\nsizes = [\"1280x720\"]\n"
        "[defaults]\nprovider = \"gw\"\nmodel = \"m\"\n",
        "t.toml");
    REQUIRE(cfg);
    const auto& d = cfg->providers.at("gw").core.dialect;
    CHECK(d.size == SizeField::aspect_resolution);
    CHECK(d.image == ImageField::frame_images);
    CHECK(d.result_field == "urls[0]");
    CHECK(d.paths.list.empty());
    CHECK(d.encoding == CreateEncoding::json);
    CHECK(d.duration == DurationField::duration_int);

    auto bad = parse_config(
        "[providers.gw]\nbase_url = \"https://gw.example/v1\"\n"
        "[providers.gw.dialect]\nsize_field = \"ratio\"\nimage = \"url\"\n"
        "image_field = \"frames[0]\"\nresult_field = \"output..url\"\n"
        "[providers.gw.dialect.paths]\ncreate = \"\"\n"
        "[providers.gw.models.m]\nseconds = [4]\nsizes = [\"1280x720\"]\n",
        "t.toml");
    REQUIRE_FALSE(bad);
    CHECK_THAT(bad.error(), Catch::Contains("providers.gw.dialect.size_field") &&
                                Catch::Contains("\"aspect_ratio\""));
    CHECK_THAT(bad.error(),
               Catch::Contains("providers.gw.dialect.image") && Catch::Contains("\"data_url\""));
    CHECK_THAT(bad.error(), Catch::Contains("providers.gw.dialect.image_field") &&
                                Catch::Contains("dotted path of names"));
    CHECK_THAT(bad.error(), Catch::Contains("providers.gw.dialect.result_field") &&
                                Catch::Contains("\"output.videos[0].url\""));
    // Only the list may be empty (no list); a create path may not.
    CHECK_THAT(bad.error(), Catch::Contains("providers.gw.dialect.paths.create"));
}

}  // namespace vd
