#include <fstream>

#include <catch2/catch.hpp>

#include "config/config.hpp"
#include "config/wording.hpp"
#include "tests/config/temp_dir.hpp"

using namespace vd;
using namespace std::chrono_literals;

namespace {

const char* kProvider = R"(
[providers.openai]
base_url = "https://api.openai.com/v1"
api_key_env = "OPENAI_API_KEY"

[providers.openai.models.sora-2]
seconds = [4, 8, 12]
sizes = ["720x1280", "1280x720"]
usd_per_second = 0.10
)";

std::string error_of(std::string_view toml) {
    auto cfg = parse_config(toml, "videodrop.toml");
    REQUIRE_FALSE(cfg);
    return cfg.error();
}

}  // namespace

TEST_CASE("an empty config gets every default and no providers", "[config]") {
    auto cfg = parse_config("", "videodrop.toml");
    REQUIRE(cfg);
    CHECK(cfg->source == "videodrop.toml");
    CHECK(cfg->paths.inbox == "/var/spool/videodrop/inbox");
    CHECK(cfg->paths.state == "/var/spool/videodrop/state");
    CHECK(cfg->defaults.provider == "openai");
    CHECK(cfg->defaults.model == "sora-2");
    CHECK(cfg->defaults.seconds == 4);
    CHECK(cfg->defaults.size == "1280x720");
    CHECK(cfg->defaults.variants.empty());
    CHECK(cfg->providers.empty());
    CHECK(cfg->intake.settle == 2s);
    CHECK(cfg->intake.rescan == 30s);
    CHECK(cfg->intake.max_image_bytes == 20 * 1024 * 1024);
    CHECK(cfg->polling.min_interval == 2s);
    CHECK(cfg->polling.max_interval == 30s);
    CHECK(cfg->polling.job_timeout == 45min);
    CHECK(cfg->budget.usd_per_day == 0);
    CHECK(cfg->verify.duration_tolerance == 500ms);
    CHECK_FALSE(cfg->verify.require_audio);
    CHECK(cfg->verify.max_download_attempts == 5);
    CHECK(cfg->verify.level == vd::VerifyLevel::decode);
    CHECK(cfg->verify.download_backoff == vd::Millis{30000});
    CHECK(cfg->reconcile.looks == 2);
    CHECK(cfg->reconcile.resubmits == 1);
    CHECK(cfg->log.level == "info");
    CHECK(cfg->log.format == "text");
    CHECK(cfg->metrics_textfile.empty());
}

TEST_CASE("every table of the config is read", "[config]") {
    auto cfg = parse_config(std::string(R"(
[paths]
inbox = "/srv/in"
outbox = "/srv/out"
failed = "/srv/failed"
state = "/srv/state"

[defaults]
provider = "openai"
model = "sora-2"
seconds = 8
size = "720x1280"
variants = ["thumbnail"]

[intake]
settle = "1s"
rescan = "2m"
max_image_bytes = 1000
max_manifest_bytes = 2000

[polling]
min_interval = "1.5s"
max_interval = "1h"
job_timeout = "90m"

[budget]
usd_per_day = 12.5
usd_total = 100

[verify]
duration_tolerance = "250ms"
require_audio = true
max_download_attempts = 5

[log]
level = "debug"
format = "json"

[metrics]
textfile = "/var/lib/node_exporter/videodrop.prom"
)") + kProvider,
                            "videodrop.toml");
    REQUIRE(cfg);
    CHECK(cfg->paths.inbox == "/srv/in");
    CHECK(cfg->paths.outbox == "/srv/out");
    CHECK(cfg->paths.failed == "/srv/failed");
    CHECK(cfg->paths.state == "/srv/state");
    CHECK(cfg->defaults.seconds == 8);
    CHECK(cfg->defaults.size == "720x1280");
    CHECK(cfg->defaults.variants == std::vector<std::string>{"thumbnail"});
    CHECK(cfg->intake.settle == 1s);
    CHECK(cfg->intake.rescan == 2min);
    CHECK(cfg->intake.max_image_bytes == 1000);
    CHECK(cfg->intake.max_manifest_bytes == 2000);
    CHECK(cfg->polling.min_interval == 1500ms);
    CHECK(cfg->polling.max_interval == 1h);
    CHECK(cfg->polling.job_timeout == 90min);
    CHECK(cfg->budget.usd_per_day == 12.5);
    CHECK(cfg->budget.usd_total == 100);
    CHECK(cfg->verify.duration_tolerance == 250ms);
    CHECK(cfg->verify.require_audio);
    CHECK(cfg->verify.max_download_attempts == 5);
    CHECK(cfg->log.level == "debug");
    CHECK(cfg->log.format == "json");
    CHECK(cfg->metrics_textfile == "/var/lib/node_exporter/videodrop.prom");

    const ProviderConfig& p = cfg->providers.at("openai");
    CHECK(p.core.name == "openai");
    CHECK(p.core.protocol == "openai-videos");
    CHECK(p.core.base_url == "https://api.openai.com/v1");
    CHECK(p.api_key_env == "OPENAI_API_KEY");
    CHECK(p.core.submits_per_minute == 5);
    CHECK(p.core.max_in_flight == 8);
    const ModelSpec& m = p.core.models.at("sora-2");
    CHECK(m.name == "sora-2");
    CHECK(m.seconds == std::vector<int>{4, 8, 12});
    CHECK(m.sizes == std::vector<std::string>{"720x1280", "1280x720"});
    CHECK(m.usd_per_second == Approx(0.10));
}

TEST_CASE("a provider table reads its limits, proxy and dialect", "[config]") {
    auto cfg = parse_config(R"(
[defaults]
provider = "gw"
model = "wan2.2"
seconds = 5

[providers.gw]
protocol = "openai-videos"
base_url = "http://127.0.0.1:8080/v1"
keys_file = "/etc/videodrop/gw.keys"
proxy = "socks5h://127.0.0.1:1080"
submits_per_minute = 0.5
max_in_flight = 2

[providers.gw.dialect]
auth = "basic"
encoding = "auto"
duration_field = "duration_int"
size_field = "width_height"
queued_words = ["waiting", "in_queue"]
running_words = ["rendering"]
completed_words = ["done"]
failed_words = ["rejected"]
url_gets_key = true

[providers.gw.models."wan2.2"]
seconds = [5, 10]
sizes = ["1280x720"]
)",
                            "videodrop.toml");
    REQUIRE(cfg);
    const ProviderConfig& p = cfg->providers.at("gw");
    CHECK(p.keys_file == "/etc/videodrop/gw.keys");
    CHECK(p.proxy == "socks5h://127.0.0.1:1080");
    CHECK(p.core.submits_per_minute == 0.5);
    CHECK(p.core.max_in_flight == 2);
    const Dialect& d = p.core.dialect;
    CHECK(d.auth == AuthScheme::basic);
    CHECK(d.encoding == CreateEncoding::auto_);
    CHECK(d.duration == DurationField::duration_int);
    CHECK(d.size == SizeField::width_height);
    CHECK(d.queued_words == std::vector<std::string>{"waiting", "in_queue"});
    CHECK(d.running_words == std::vector<std::string>{"rendering"});
    CHECK(d.completed_words == std::vector<std::string>{"done"});
    CHECK(d.failed_words == std::vector<std::string>{"rejected"});
    CHECK(d.url_gets_key);
    CHECK(p.core.models.at("wan2.2").usd_per_second == 0);
}

TEST_CASE("a provider without a dialect table speaks the reference protocol", "[config]") {
    auto cfg = parse_config(kProvider, "videodrop.toml");
    REQUIRE(cfg);
    const Dialect& d = cfg->providers.at("openai").core.dialect;
    CHECK(d.auth == AuthScheme::bearer);
    CHECK(d.encoding == CreateEncoding::multipart);
    CHECK(d.duration == DurationField::seconds_string);
    CHECK(d.size == SizeField::size);
    CHECK(d.completed_words.empty());
    CHECK_FALSE(d.url_gets_key);
}

TEST_CASE("durations take ms, s, m and h with fractions", "[config]") {
    CHECK(parse_duration("250ms") == 250ms);
    CHECK(parse_duration("10s") == 10s);
    CHECK(parse_duration("1.5s") == 1500ms);
    CHECK(parse_duration("0.5s") == 500ms);
    CHECK(parse_duration("30m") == 30min);
    CHECK(parse_duration("1h") == 1h);
    CHECK(parse_duration("0s") == 0ms);
    for (const char* bad :
         {"", "10", "s", "1.5", ".5s", "5.s", "-1s", "10 s", "1d", "1sec", "1e3ms", "99999999h"})
        CHECK_FALSE(parse_duration(bad));
}

TEST_CASE("an unknown key names the file, the line, the dotted key and a likely fix", "[config]") {
    std::string e = error_of("[polling]\nmin_interval = \"1s\"\n\nmin_intervall = \"2s\"\n");
    CHECK(e == "videodrop.toml:4: polling.min_intervall: unknown key (did you mean min_interval?)");
}

TEST_CASE("an unknown key with no close spelling lists the allowed keys", "[config]") {
    std::string e = error_of("[log]\ncolour = true\n");
    CHECK(e == "videodrop.toml:2: log.colour: unknown key (allowed here: level or format)");
}

TEST_CASE("unknown tables and keys deep in a provider are reported", "[config]") {
    std::string e = error_of(std::string(kProvider) +
                             "[providers.openai.dialect]\nauthentication = \"bare\"\n\n"
                             "[poling]\nmin_interval = \"1s\"\n");
    CHECK_THAT(e, Catch::Contains("providers.openai.dialect.authentication: unknown key"));
    CHECK_THAT(e, Catch::Contains(":13: poling: unknown key (did you mean polling?)"));
}

TEST_CASE("a wrong type says what was expected and what was found", "[config]") {
    CHECK(error_of("[defaults]\nseconds = \"8\"\n") ==
          "videodrop.toml:2: defaults.seconds: expected an integer, got a string");
    CHECK(error_of("[polling]\nmin_interval = 2\n") ==
          "videodrop.toml:2: polling.min_interval: expected a duration string such as \"10s\", "
          "got an integer");
    CHECK_THAT(error_of("[verify]\nrequire_audio = \"yes\"\n"),
               Catch::Contains("verify.require_audio: expected true or false, got a string"));
    CHECK_THAT(error_of("paths = \"/srv\"\n"),
               Catch::Contains("videodrop.toml:1: paths: expected a table, got a string"));
}

TEST_CASE("every problem of a config is reported at once", "[config]") {
    std::string e = error_of("[polling]\nmin_interval = \"2 s\"\n[log]\nlevel = \"loud\"\n");
    CHECK_THAT(e, Catch::Contains(":2: polling.min_interval: \"2 s\" is not a duration"));
    CHECK_THAT(e, Catch::Contains(":4: log.level: \"loud\" is not allowed (use \"trace\", "
                                  "\"debug\", \"info\", \"warn\" or \"error\")"));
}

TEST_CASE("invalid TOML names the line", "[config]") {
    std::string e = error_of("[paths]\ninbox = \"/srv/in\"\noutbox = \n");
    CHECK_THAT(e, Catch::StartsWith("videodrop.toml:3: not valid TOML"));
}

TEST_CASE("a proxy must be http, https, socks5 or socks5h and is never echoed", "[config]") {
    std::string base = "[providers.p]\nbase_url = \"https://x\"\n";
    for (const char* ok : {"http://p:3128", "https://p", "socks5://p:1080", "socks5h://p:1080"})
        CHECK(parse_config(base + "proxy = \"" + ok + "\"\n", "v.toml"));
    std::string e = error_of(base + "proxy = \"ftp://user:s3cret@proxy:21\"\n");
    CHECK_THAT(e, Catch::Contains("videodrop.toml:3: providers.p.proxy: unsupported proxy URL"));
    CHECK_THAT(e, !Catch::Contains("s3cret"));
}

TEST_CASE("provider limits must be positive", "[config]") {
    std::string base = "[providers.p]\nbase_url = \"https://x\"\n";
    CHECK_THAT(error_of(base + "submits_per_minute = 0\n"),
               Catch::Contains("providers.p.submits_per_minute: must be more than 0"));
    CHECK_THAT(error_of(base + "max_in_flight = 0\n"),
               Catch::Contains("providers.p.max_in_flight: 0 is out of range"));
    CHECK_THAT(error_of(base + "protocol = \"grpc\"\n"),
               Catch::Contains("providers.p.protocol: \"grpc\" is not allowed"));
    CHECK_THAT(error_of("[providers.p]\nprotocol = \"openai-videos\"\n"),
               Catch::Contains("providers.p.base_url: missing"));
    CHECK_THAT(error_of(base + "api_key_env = \"A\"\napi_key_file = \"/k\"\n"),
               Catch::Contains(
                   "give only one of api_key_env, api_key_file, keys_file or api_key_credential"));
}

TEST_CASE("a chat-sse provider's stream keys and chat_model templates", "[config]") {
    std::string base = "[providers.s]\nprotocol = \"chat-sse\"\nbase_url = \"http://x/v1\"\n";
    auto cfg = parse_config(base +
                                "stream_timeout = \"10m\"\non_lost_stream = \"resubmit\"\n"
                                "[providers.s.models.m]\nseconds = [10]\nsizes = [\"1280x720\"]\n"
                                "chat_model = \"sora2pro-{orientation}-{seconds}s\"\n",
                            "v.toml");
    REQUIRE(cfg);
    const auto& p = cfg->providers.at("s").core;
    CHECK(p.stream_timeout == Millis{600000});
    CHECK(p.resubmit_lost_stream);
    CHECK(p.models.at("m").chat_model == "sora2pro-{orientation}-{seconds}s");
    CHECK_FALSE(parse_config(base, "v.toml")->providers.at("s").core.resubmit_lost_stream);

    CHECK_THAT(error_of(base + "on_lost_stream = \"retry\"\n"),
               Catch::Contains("providers.s.on_lost_stream: \"retry\" is not allowed"));
    CHECK_THAT(error_of(base + "stream_timeout = \"2s\"\n"),
               Catch::Contains("providers.s.stream_timeout: must be at least 10s"));
    CHECK_THAT(error_of("[providers.g]\nbase_url = \"http://x/v1\"\non_lost_stream = \"fail\"\n"),
               Catch::Contains("providers.g.on_lost_stream: only a protocol = \"chat-sse\""));
    CHECK_THAT(error_of(base + "[providers.s.models.m]\nseconds = [10]\nsizes = [\"1280x720\"]\n"
                               "chat_model = \"sora-{size}\"\n"),
               Catch::Contains("providers.s.models.m.chat_model: \"sora-{size}\" has {size}, "
                               "which is not a placeholder"));
}

TEST_CASE("a mock provider needs no base_url", "[config]") {
    auto cfg = parse_config("[providers.mock]\nprotocol = \"mock\"\n", "v.toml");
    REQUIRE(cfg);
    CHECK(cfg->providers.at("mock").core.protocol == "mock");
}

TEST_CASE("a model table needs seconds and valid sizes and a price of at least 0", "[config]") {
    std::string base = "[providers.p]\nbase_url = \"https://x\"\n[providers.p.models.m]\n";
    CHECK_THAT(error_of(base + "sizes = [\"1280x720\"]\n"),
               Catch::Contains("providers.p.models.m.seconds: missing"));
    CHECK_THAT(error_of(base + "seconds = [4]\nsizes = [\"1280*720\"]\n"),
               Catch::Contains("providers.p.models.m.sizes: \"1280*720\" is not a size"));
    CHECK_THAT(error_of(base + "seconds = [4]\nsizes = [\"1x1\"]\nusd_per_second = -1\n"),
               Catch::Contains("providers.p.models.m.usd_per_second: must be a number from 0"));
    CHECK_THAT(error_of(base + "seconds = [\"4\"]\nsizes = [\"1x1\"]\n"),
               Catch::Contains("expected a list of integers, got a string"));
}

TEST_CASE("polling min_interval may not exceed max_interval", "[config]") {
    CHECK_THAT(error_of("[polling]\nmin_interval = \"1m\"\nmax_interval = \"30s\"\n"),
               Catch::Contains("polling.min_interval: is longer than max_interval"));
}

TEST_CASE("budgets may not be negative", "[config]") {
    CHECK_THAT(error_of("[budget]\nusd_per_day = -5\n"),
               Catch::Contains("budget.usd_per_day: must be a number from 0"));
}

TEST_CASE("the defaults must fit the default provider's model table", "[config]") {
    std::string p = kProvider;
    CHECK_THAT(error_of(p + "[defaults]\nseconds = 5\n"),
               Catch::Contains("defaults.seconds: 5 is not allowed for sora-2 (use 4, 8 or 12)"));
    CHECK_THAT(error_of(p + "[defaults]\nsize = \"1024x1024\"\n"),
               Catch::Contains("defaults.size: 1024x1024 is not allowed for sora-2 (use "
                               "720x1280 or 1280x720)"));
    CHECK_THAT(error_of(p + "[defaults]\nmodel = \"sora-3\"\n"),
               Catch::Contains("defaults.model: \"sora-3\" is not a model of providers.openai "
                               "(use sora-2)"));
    CHECK_THAT(error_of(p + "[defaults]\nprovider = \"runway\"\n"),
               Catch::Contains("defaults.provider: \"runway\" has no [providers.runway] table "
                               "(use openai)"));
    CHECK_THAT(error_of(p + "[defaults]\nvariants = [\"gif\"]\n"),
               Catch::Contains("defaults.variants: \"gif\" is not a variant"));
}

TEST_CASE("settings carry the providers and what the core needs", "[config]") {
    auto cfg = parse_config(std::string(kProvider) + "[budget]\nusd_total = 50\n", "v.toml");
    REQUIRE(cfg);
    cfg->providers.at("openai").core.key_count = 3;  // what the daemon does after load_keys
    Settings s = cfg->settings();
    REQUIRE(s.providers.count("openai") == 1);
    CHECK(s.providers.at("openai").key_count == 3);
    CHECK(s.providers.at("openai").models.at("sora-2").seconds.size() == 3);
    CHECK(s.budget.usd_total == 50);
    CHECK(s.polling.max_interval == 30s);
}

TEST_CASE("load_config reads a file and anchors relative paths at its folder", "[config]") {
    test::TempDir dir;
    std::string path = dir.write("videodrop.toml",
                                 "[paths]\ninbox = \"in\"\noutbox = \"/abs/out\"\n"
                                 "[providers.p]\nprotocol = \"mock\"\napi_key_file = \"key\"\n");
    auto cfg = load_config(path);
    REQUIRE(cfg);
    CHECK(cfg->source == path);
    CHECK(cfg->paths.inbox == (dir.path / "in").string());
    CHECK(cfg->paths.outbox == "/abs/out");
    CHECK(cfg->providers.at("p").api_key_file == (dir.path / "key").string());
}

TEST_CASE("load_config of a missing file names it", "[config]") {
    auto cfg = load_config("/nonexistent/videodrop.toml");
    REQUIRE_FALSE(cfg);
    CHECK_THAT(cfg.error(), Catch::StartsWith("/nonexistent/videodrop.toml: cannot read"));
}

TEST_CASE("the example config parses and matches the built-in defaults", "[config]") {
    auto cfg = load_config(VD_SOURCE_DIR "/config/videodrop.example.toml");
    REQUIRE(cfg);
    Config builtin;
    // Its folders sit beside it and its provider is the built-in mock: it works as it is.
    CHECK(cfg->paths.inbox == VD_SOURCE_DIR "/config/inbox");
    CHECK(cfg->paths.state == VD_SOURCE_DIR "/config/state");
    CHECK(cfg->defaults.provider == "mock");
    CHECK(cfg->providers.at("mock").core.protocol == "mock");
    CHECK(cfg->defaults.model == builtin.defaults.model);
    CHECK(cfg->intake.settle == builtin.intake.settle);
    CHECK(cfg->intake.max_image_bytes == builtin.intake.max_image_bytes);
    CHECK(cfg->intake.max_manifest_bytes == builtin.intake.max_manifest_bytes);
    CHECK(cfg->polling.job_timeout == builtin.polling.job_timeout);
    CHECK(cfg->verify.duration_tolerance == builtin.verify.duration_tolerance);
    CHECK(cfg->verify.max_download_attempts == builtin.verify.max_download_attempts);
    CHECK(cfg->verify.level == builtin.verify.level);
    CHECK(cfg->verify.download_backoff == builtin.verify.download_backoff);
    CHECK(cfg->polling.max_provider_wait == builtin.polling.max_provider_wait);
    CHECK(cfg->download.max_mbit_per_second == builtin.download.max_mbit_per_second);
    CHECK(cfg->download.min_bytes_per_second == builtin.download.min_bytes_per_second);
    CHECK(cfg->download.low_speed_time == builtin.download.low_speed_time);
    CHECK(cfg->intake.max_image_pixels == builtin.intake.max_image_pixels);
    CHECK(cfg->reconcile.looks == builtin.reconcile.looks);
    CHECK(cfg->reconcile.resubmits == builtin.reconcile.resubmits);
}

TEST_CASE("the installed service's config keeps the built-in spool and reads the credential",
          "[config]") {
    auto cfg = load_config(VD_SOURCE_DIR "/config/videodrop.server.toml");
    REQUIRE(cfg);
    Config builtin;
    CHECK(cfg->paths.inbox == builtin.paths.inbox);
    CHECK(cfg->paths.outbox == builtin.paths.outbox);
    CHECK(cfg->paths.failed == builtin.paths.failed);
    CHECK(cfg->paths.state == builtin.paths.state);
    CHECK(cfg->paths.state.rfind("/var/spool/videodrop/", 0) == 0);  // the units' one mount
    const auto& gateway = cfg->providers.at("gateway");
    CHECK(gateway.api_key_credential == "openai");
    CHECK(gateway.core.protocol == "openai-videos");
    CHECK(gateway.core.max_in_flight == ProviderSettings{}.max_in_flight);
    CHECK(gateway.core.submits_per_minute == ProviderSettings{}.submits_per_minute);
}

TEST_CASE("find_config prefers --config, then $VIDEODROP_CONFIG", "[config]") {
    CHECK(find_config("/explicit/missing.toml") == "/explicit/missing.toml");
    setenv("VIDEODROP_CONFIG", "/from/env.toml", 1);
    CHECK(find_config("") == "/from/env.toml");
    unsetenv("VIDEODROP_CONFIG");
}

TEST_CASE("equal or nested folders are refused, naming both keys", "[config]") {
    auto with_paths = [](const std::string& paths) {
        return parse_config("[paths]\n" + paths, "t.toml");
    };
    auto same = with_paths("inbox = \"/srv/vd/in\"\noutbox = \"/srv/vd/in\"\n");
    REQUIRE_FALSE(same);
    CHECK_THAT(same.error(), Catch::Contains("inbox and outbox are the same folder"));
    auto nested = with_paths("inbox = \"/srv/vd/in\"\nstate = \"/srv/vd/in/state\"\n");
    REQUIRE_FALSE(nested);
    CHECK_THAT(nested.error(), Catch::Contains("state (/srv/vd/in/state) is inside inbox"));
    auto failed_in = with_paths("failed = \"/srv/vd/in\"\ninbox = \"/srv/vd/in/\"\n");
    REQUIRE_FALSE(failed_in);
    CHECK_THAT(failed_in.error(), Catch::Contains("inbox and failed are the same folder"));
    auto outbox_failed = with_paths("outbox = \"/srv/vd/out\"\nfailed = \"/srv/vd/out/f\"\n");
    REQUIRE_FALSE(outbox_failed);
    CHECK_THAT(outbox_failed.error(), Catch::Contains("failed (/srv/vd/out/f) is inside outbox"));
    // Siblings with a common prefix are separate folders.
    CHECK(with_paths("inbox = \"/srv/vd/in\"\noutbox = \"/srv/vd/inbox-out\"\n"));
}

TEST_CASE("verify.level, download_backoff and [reconcile] are read and checked", "[config]") {
    auto cfg = parse_config(
        "[verify]\nlevel = \"demux\"\ndownload_backoff = \"2s\"\n"
        "[reconcile]\nlooks = 3\nresubmits = 0\n",
        "t.toml");
    REQUIRE(cfg);
    CHECK(cfg->verify.level == vd::VerifyLevel::demux);
    CHECK(cfg->verify.download_backoff == vd::Millis{2000});
    CHECK(cfg->settings().reconcile.looks == 3);
    CHECK(cfg->settings().reconcile.resubmits == 0);
    auto bad = parse_config("[verify]\nlevel = \"full\"\n", "t.toml");
    REQUIRE_FALSE(bad);
    CHECK_THAT(bad.error(), Catch::Contains("level"));
}

TEST_CASE("a config file that is empty or names no provider is refused", "[config]") {
    vd::test::TempDir t;
    const std::string empty = (t.path / "empty.toml").string(),
                      bare = (t.path / "bare.toml").string();
    std::ofstream(empty) << "\n  \n";
    std::ofstream(bare) << "[budget]\nusd_per_day = 5\n";
    auto e = load_config(empty);
    REQUIRE_FALSE(e);
    CHECK_THAT(e.error(), Catch::Contains(empty + ": the config file is empty"));
    auto b = load_config(bare);
    REQUIRE_FALSE(b);
    CHECK_THAT(b.error(), Catch::Contains(bare + ": no provider is configured"));
    CHECK_THAT(b.error(), Catch::Contains("[providers.NAME]"));
}

TEST_CASE("hints list each value once and never end empty", "[config]") {
    CHECK(vd::one_of({"seconds", "seconds", "size", "seconds"}) == "seconds or size");
    CHECK(vd::use_hint({"4", "8", "4"}) == " (use 4 or 8)");
    CHECK(vd::use_hint({}) == " (none is offered: check the provider's models table)");
    // An unknown key in a table read twice over does not repeat the keys it allows.
    auto e = error_of("[verify]\nlevel = \"decode\"\nlevl = 1\n");
    CHECK_THAT(e, Catch::Contains("did you mean level?"));
    auto t = error_of("[polling]\nmin_interval = \"1s\"\nzzzzzzzz = 1\n");
    CHECK_THAT(t, !Catch::Contains("min_interval, min_interval"));
    CHECK_THAT(t, !Catch::Contains("(use )"));
}

TEST_CASE("a protocol the build has no implementation of is refused at load", "[config]") {
    std::string toml(R"(
[providers.openai]
base_url = "https://api.openai.com/v1"
protocol = "veo-predict"
)");
    auto e = error_of(toml);
    CHECK(e.find("providers.openai.protocol") != std::string::npos);
    CHECK(e.find("\"veo-predict\" is not allowed") != std::string::npos);
    CHECK(e.find("\"openai-videos\"") != std::string::npos);
    CHECK(e.find("\"chat-sse\"") != std::string::npos);  // offered among the known ones
    auto ok = parse_config("[providers.local]\nprotocol = \"mock\"\n", "videodrop.toml");
    REQUIRE(ok);
    CHECK(ok->providers.at("local").core.base_url.empty());  // served by the executable
}
