// The configuration file: TOML into validated structs with defaults.
// The only place that knows TOML.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "pipeline/types.hpp"

namespace vd {

struct Paths {
    std::string inbox = "/var/spool/videodrop/inbox";
    std::string outbox = "/var/spool/videodrop/outbox";
    std::string failed = "/var/spool/videodrop/failed";
    std::string state = "/var/spool/videodrop/state";  // on the inbox's mount: a claim is a rename
};

struct Defaults {
    std::string provider = "openai";
    std::string model = "sora-2";
    int seconds = 4;
    std::string size = "1280x720";
    std::vector<std::string> variants;
};

// A [providers.NAME] table: the core's view plus where its secrets come from.
struct ProviderConfig {
    ProviderSettings core;
    std::string api_key_env;   // name of an environment variable
    std::string api_key_file;  // a file holding one key
    std::string keys_file;     // a file with several keys, one a line (a pool)
    // A systemd credential's name: $CREDENTIALS_DIRECTORY/NAME holds one key or a pool, one a
    // line (LoadCredential=NAME:PATH in the unit), so one config serves every unit.
    std::string api_key_credential;
    std::string proxy;    // http://, https://, socks5://, socks5h://
    std::string profile;  // a shipped profile's name (config/providers/NAME.toml), or empty
};

struct IntakeSettings {
    Millis settle{2000};  // see intake::decide: files written in place hold still this long
    Millis rescan{30000};
    int64_t max_image_bytes = 20 * 1024 * 1024;
    // Larger reference images are refused from their header, before decoding; one is fitted at
    // a time, off the event loop.
    int64_t max_image_pixels = 40'000'000;
    int64_t max_manifest_bytes = 1024 * 1024;
};

// [hooks]: what runs when a job ends. Every terminal outcome (delivered, failed, cancelled,
// rejected at intake) fires once: the argv of on_delivered or on_failed, run without a shell,
// and a POST of the sidecar or error JSON to webhook_url.
struct HooksConfig {
    std::vector<std::string> on_delivered;  // argv; "{name}", "{sidecar}", "{error}", "{mp4}"
    std::vector<std::string> on_failed;
    Millis timeout{30000};  // a hook running longer is killed (its process group)
    int max_running = 4;    // hooks at once; the others wait
    std::string webhook_url;
    // The HMAC-SHA256 key signing each webhook body, from a variable or a file (never the config
    // itself, which is not a secret); empty: unsigned.
    std::string webhook_secret_env;
    std::string webhook_secret_file;
    int webhook_attempts = 10;  // POSTs of one notification before it is given up (and logged)
    bool any() const { return !on_delivered.empty() || !on_failed.empty() || !webhook_url.empty(); }
};

struct LogSettings {
    std::string level = "info";   // trace, debug, info, warn, error
    std::string format = "text";  // text, json
};

struct Config {
    std::string source;  // the file it came from ("" for built-in defaults)
    Paths paths;
    Defaults defaults;
    std::map<std::string, ProviderConfig> providers;
    IntakeSettings intake;
    PollSettings polling;
    BudgetSettings budget;
    VerifySettings verify;
    ReconcileSettings reconcile;
    DownloadSettings download;
    LogSettings log;
    std::string metrics_textfile;
    HooksConfig hooks;

    // What the pure core needs. Each provider's key_count is its core.key_count: 1 after parsing
    // (keys are not read then); the daemon sets it to the size of load_keys' result.
    Settings settings() const;
};

// Why inbox, outbox, failed and state cannot work as given (equal, or one inside another),
// naming both keys; nullopt when they are separate.
std::optional<std::string> overlapping_paths(const Paths& paths);

// Parses TOML text; errors name the source, the line, the key and the fix.
tl::expected<Config, std::string> parse_config(std::string_view toml, const std::string& source);
// Relative paths in the file ([paths], api_key_file, keys_file, metrics.textfile) are taken
// relative to the file's folder.
tl::expected<Config, std::string> load_config(const std::string& path);
// --config, else $VIDEODROP_CONFIG, else ./videodrop.toml, else /etc/videodrop/videodrop.toml.
// Returns the first that exists (or the explicit one even if missing, so the error names it).
std::optional<std::string> find_config(const std::string& explicit_path);

// "250ms", "10s", "1.5s", "30m", "1h" -> milliseconds.
std::optional<Millis> parse_duration(std::string_view text);

// The provider's API keys from api_key_env, api_key_file, keys_file or api_key_credential. Never
// logged; an error names where it looked, never a key.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;
// Without api_key_env, api_key_file or keys_file, a provider's key is read from this variable.
inline constexpr const char* kDefaultKeyEnv = "OPENAI_API_KEY";
tl::expected<std::vector<std::string>, std::string> load_keys(const ProviderConfig& p,
                                                              const EnvLookup& env);
// The webhook's signing key (empty when none is configured); an error names where it looked.
tl::expected<std::string, std::string> load_webhook_secret(const HooksConfig& h,
                                                           const EnvLookup& env);

}  // namespace vd
