#include <catch2/catch.hpp>

#include "config/config.hpp"
#include "tests/config/temp_dir.hpp"

using namespace vd;

namespace {

const std::string kSecret = "sk-proj-Zq7s3cr3tK3y";

ProviderConfig provider() {
    ProviderConfig p;
    p.core.name = "openai";
    return p;
}

EnvLookup env_with(std::map<std::string, std::string> vars) {
    return [vars](const std::string& name) -> std::optional<std::string> {
        auto it = vars.find(name);
        if (it == vars.end()) return std::nullopt;
        return it->second;
    };
}

}  // namespace

TEST_CASE("a key from the environment is trimmed", "[config][keys]") {
    auto p = provider();
    p.api_key_env = "OPENAI_API_KEY";
    auto keys = load_keys(p, env_with({{"OPENAI_API_KEY", "  " + kSecret + "\n"}}));
    REQUIRE(keys);
    CHECK(*keys == std::vector<std::string>{kSecret});
}

TEST_CASE("a missing or empty environment variable is named, never a key", "[config][keys]") {
    auto p = provider();
    p.api_key_env = "OPENAI_API_KEY";
    auto missing = load_keys(p, env_with({}));
    REQUIRE_FALSE(missing);
    CHECK(missing.error() ==
          "providers.openai: environment variable OPENAI_API_KEY is not set (export it, or use "
          "api_key_file)");
    auto empty = load_keys(p, env_with({{"OPENAI_API_KEY", " \n"}}));
    REQUIRE_FALSE(empty);
    CHECK_THAT(empty.error(), Catch::Contains("OPENAI_API_KEY is empty"));
    auto two = load_keys(p, env_with({{"OPENAI_API_KEY", kSecret + " " + kSecret}}));
    REQUIRE_FALSE(two);
    CHECK_THAT(two.error(), !Catch::Contains(kSecret));
}

TEST_CASE("a key file holds one key, trimmed", "[config][keys]") {
    test::TempDir dir;
    auto p = provider();
    p.api_key_file = dir.write("key", kSecret + "\n");
    auto keys = load_keys(p, env_with({}));
    REQUIRE(keys);
    CHECK(*keys == std::vector<std::string>{kSecret});
}

TEST_CASE("a key file with two lines or none is refused without showing it", "[config][keys]") {
    test::TempDir dir;
    auto p = provider();
    p.api_key_file = dir.write("key", kSecret + "\n" + kSecret + "x\n");
    auto two = load_keys(p, env_with({}));
    REQUIRE_FALSE(two);
    CHECK_THAT(two.error(), Catch::Contains(p.api_key_file));
    CHECK_THAT(two.error(), !Catch::Contains(kSecret));

    p.api_key_file = dir.write("empty", "\n\n");
    auto empty = load_keys(p, env_with({}));
    REQUIRE_FALSE(empty);
    CHECK_THAT(empty.error(), Catch::Contains("is empty"));

    p.api_key_file = (dir.path / "absent").string();
    auto absent = load_keys(p, env_with({}));
    REQUIRE_FALSE(absent);
    CHECK_THAT(absent.error(), Catch::StartsWith("providers.openai: api_key_file " +
                                                 p.api_key_file + ": cannot read it"));
}

TEST_CASE("a keys file is a pool: one key a line, blanks and comments skipped", "[config][keys]") {
    test::TempDir dir;
    auto p = provider();
    p.keys_file =
        dir.write("pool", "# team keys\n\nkey-one\n  key-two  \n# retired: key-0\nkey-3\n");
    auto keys = load_keys(p, env_with({}));
    REQUIRE(keys);
    CHECK(*keys == std::vector<std::string>{"key-one", "key-two", "key-3"});
}

TEST_CASE("a keys file problem names the file and line, never the key", "[config][keys]") {
    test::TempDir dir;
    auto p = provider();
    p.keys_file = dir.write("pool", "key-one\n" + kSecret + "\n" + kSecret + "\n");
    auto dup = load_keys(p, env_with({}));
    REQUIRE_FALSE(dup);
    CHECK(dup.error() == "providers.openai: keys_file " + p.keys_file +
                             ":3: repeats an earlier key (remove the copy)");

    p.keys_file = dir.write("spaces", "key one " + kSecret + "\n");
    auto spaces = load_keys(p, env_with({}));
    REQUIRE_FALSE(spaces);
    CHECK_THAT(spaces.error(), Catch::Contains(":1: holds spaces"));
    CHECK_THAT(spaces.error(), !Catch::Contains(kSecret));

    p.keys_file = dir.write("comments", "# nothing yet\n\n");
    auto none = load_keys(p, env_with({}));
    REQUIRE_FALSE(none);
    CHECK_THAT(none.error(), Catch::Contains("holds no keys"));
}

TEST_CASE("a mock provider works without a key; others need one", "[config][keys]") {
    auto p = provider();
    p.core.protocol = "mock";
    auto keys = load_keys(p, env_with({}));
    REQUIRE(keys);
    CHECK(keys->size() == 1);
    p.core.protocol = "openai-videos";
    auto none = load_keys(p, env_with({}));
    REQUIRE_FALSE(none);
    CHECK(none.error() ==
          "providers.openai: environment variable OPENAI_API_KEY (the default api_key_env) is not "
          "set (export it, or use api_key_file)");
    // The documented default: OPENAI_API_KEY.
    auto defaulted = load_keys(p, env_with({{"OPENAI_API_KEY", kSecret}}));
    REQUIRE(defaulted);
    CHECK(*defaulted == std::vector<std::string>{kSecret});
}

TEST_CASE("a systemd credential is read from $CREDENTIALS_DIRECTORY", "[config][keys]") {
    test::TempDir dir;
    dir.write("openai", kSecret + "\n");
    auto p = provider();
    p.api_key_credential = "openai";
    auto keys = load_keys(p, env_with({{"CREDENTIALS_DIRECTORY", dir.str()}}));
    REQUIRE(keys);
    CHECK(*keys == std::vector<std::string>{kSecret});

    // Outside a unit: the error names the directive to add.
    auto outside = load_keys(p, env_with({}));
    REQUIRE_FALSE(outside);
    CHECK(outside.error().find("$CREDENTIALS_DIRECTORY is not set") != std::string::npos);
    CHECK(outside.error().find("LoadCredential=openai:") != std::string::npos);

    // A unit that passes other credentials only.
    p.api_key_credential = "gateway";
    auto absent = load_keys(p, env_with({{"CREDENTIALS_DIRECTORY", dir.str()}}));
    REQUIRE_FALSE(absent);
    CHECK(absent.error().find("passes no credential named \"gateway\"") != std::string::npos);
    CHECK(absent.error().find("LoadCredential=gateway:") != std::string::npos);
    CHECK(absent.error().find(kSecret) == std::string::npos);
}

TEST_CASE("api_key_credential is a name, and one key source only", "[config][keys]") {
    auto cfg = parse_config(
        "[providers.a]\nbase_url = \"https://x.test/v1\"\napi_key_credential = \"../key\"\n",
        "videodrop.toml");
    REQUIRE_FALSE(cfg);
    CHECK(cfg.error().find("providers.a.api_key_credential") != std::string::npos);
    CHECK(cfg.error().find("not a path") != std::string::npos);
    auto both = parse_config(
        "[providers.a]\nbase_url = \"https://x.test/v1\"\napi_key_env = \"K\"\n"
        "api_key_credential = \"openai\"\n",
        "videodrop.toml");
    REQUIRE_FALSE(both);
    CHECK(both.error().find("give only one of") != std::string::npos);
}
