// Every shipped provider profile (config/providers/NAME.toml) end to end: the mock speaks that
// profile's dialect (its --dialect of the same name) and `videodrop once`, configured with
// nothing but `profile = "NAME"`, creates, polls, downloads, verifies and publishes; a create
// whose answer is lost is found again in the dialect's list, never sent twice.
#include <filesystem>
#include <string>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "config/config.hpp"
#include "config/profiles.hpp"
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

}  // namespace

TEST_CASE("every shipped profile delivers from the mock speaking its dialect", "[profiles]") {
    REQUIRE(shipped_profiles().size() >= 3);
    for (const auto& profile : shipped_profiles()) {
        const std::string name(profile.name);
        SECTION(name) {
            auto o = mock_options();
            o.dialect = name;  // the mock's dialects carry the profiles' names
            mock::Server server(o);
            server.start();
            Spool s;
            s.drop("lake.json", R"({"prompt": "a calm lake"})");
            s.drop("hill.json", R"({"prompt": "a green hill", "seconds": 2})");
            auto run = once(config_for(s, server.base_url(), name));
            INFO(name << "\n" << run.output);
            CHECK(run.code == 0);
            for (const char* f : {"lake.mp4", "lake.json", "hill.mp4", "hill.json"})
                CHECK(std::filesystem::exists(s.outbox() / f));
            CHECK(server.videos_created() == 2);
            for (const auto& r : server.requests())
                CHECK(r.status != 404);  // every request went to a path of the dialect
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
            CHECK(run.code == 0);
            CHECK(std::filesystem::exists(s.outbox() / "river.mp4"));
            CHECK(server.videos_created() == 1);
            bool listed = false;
            for (const auto& r : server.requests())
                listed |= r.method == "GET" && (r.path == "/v1/videos" || r.path == "/v1/jobs");
            CHECK(listed);
            CHECK(run.output.find("adopted") != std::string::npos);
        }
    }
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
