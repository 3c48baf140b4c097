// load_keys: a provider's API keys from the environment, a file or a pool file. Messages name
// where a key was looked for, never the key.
#include <filesystem>
#include <fstream>
#include <sstream>

#include "config/config.hpp"
#include "config/wording.hpp"
#include "pipeline/protocol.hpp"

namespace vd {
namespace {

constexpr std::uintmax_t kMaxKeyFileBytes = 1024 * 1024;

tl::expected<std::string, std::string> read_secret_file(const std::string& what,
                                                        const std::string& path) {
    std::error_code ec;
    auto size = std::filesystem::file_size(path, ec);
    if (ec) return tl::unexpected(what + " " + path + ": cannot read it: " + ec.message());
    if (size > kMaxKeyFileBytes) return tl::unexpected(what + " " + path + ": larger than 1 MiB");
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    if (!in) return tl::unexpected(what + " " + path + ": cannot read it");
    return text.str();
}

// A key goes into an HTTP header: control characters or spaces would corrupt the request.
bool usable_key(std::string_view key) {
    for (char c : key)
        if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return false;
    return !key.empty();
}

}  // namespace

tl::expected<std::vector<std::string>, std::string> load_keys(const ProviderConfig& p,
                                                              const EnvLookup& env) {
    const std::string where = "providers." + p.core.name;
    std::string key_env = p.api_key_env;
    if (key_env.empty() && p.api_key_file.empty() && p.keys_file.empty() &&
        p.api_key_credential.empty()) {
        // Served in this process: no secret exists, a placeholder stands in.
        if (protocol::self_served(p.core.protocol)) return std::vector<std::string>{"local-key"};
        key_env = kDefaultKeyEnv;  // the documented default
    }

    if (!key_env.empty()) {
        auto value = env(key_env);
        if (!value)
            return tl::unexpected(where + ": environment variable " + key_env +
                                  (p.api_key_env.empty() ? " (the default api_key_env)" : "") +
                                  " is not set (export it, or use api_key_file)");
        std::string key(trim(*value));
        if (key.empty())
            return tl::unexpected(where + ": environment variable " + key_env + " is empty");
        if (!usable_key(key))
            return tl::unexpected(where + ": environment variable " + key_env +
                                  " holds spaces or control characters; it should be one key");
        return std::vector<std::string>{key};
    }

    if (!p.api_key_file.empty()) {
        auto text = read_secret_file(where + ": api_key_file", p.api_key_file);
        if (!text) return tl::unexpected(text.error());
        std::string key(trim(*text));
        if (key.empty())
            return tl::unexpected(where + ": api_key_file " + p.api_key_file + " is empty");
        if (!usable_key(key))
            return tl::unexpected(where + ": api_key_file " + p.api_key_file +
                                  " holds more than one word or line (one key only; use keys_file "
                                  "for a pool)");
        return std::vector<std::string>{key};
    }

    std::string pool = p.keys_file, what = "keys_file";
    if (!p.api_key_credential.empty()) {
        const std::string fix = " (add LoadCredential=" + p.api_key_credential +
                                ":/etc/videodrop/" + p.api_key_credential +
                                ".key to the unit's [Service] section)";
        auto dir = env("CREDENTIALS_DIRECTORY");
        if (!dir || dir->empty())
            return tl::unexpected(where + ": api_key_credential \"" + p.api_key_credential +
                                  "\" needs systemd's credentials, and $CREDENTIALS_DIRECTORY "
                                  "is not set" +
                                  fix);
        pool = *dir + "/" + p.api_key_credential;
        what = "api_key_credential";
        std::error_code ec;
        if (!std::filesystem::exists(pool, ec))
            return tl::unexpected(where + ": api_key_credential: " + pool +
                                  " does not exist; the unit passes no credential named \"" +
                                  p.api_key_credential + "\"" + fix);
    }
    auto text = read_secret_file(where + ": " + what, pool);
    if (!text) return tl::unexpected(text.error());
    std::vector<std::string> keys;
    std::istringstream lines(*text);
    std::string line;
    for (int n = 1; std::getline(lines, line); ++n) {
        std::string_view key = trim(line);
        if (key.empty() || key.front() == '#') continue;
        auto at = where + ": " + what + " " + pool + ":" + std::to_string(n);
        if (!usable_key(key))
            return tl::unexpected(at + ": holds spaces or control characters (one key a line)");
        for (const auto& k : keys)
            if (k == key) return tl::unexpected(at + ": repeats an earlier key (remove the copy)");
        keys.emplace_back(key);
    }
    if (keys.empty())
        return tl::unexpected(where + ": " + what + " " + pool + " holds no keys (one a line)");
    return keys;
}

tl::expected<std::string, std::string> load_webhook_secret(const HooksConfig& h,
                                                           const EnvLookup& env) {
    std::string secret;
    if (!h.webhook_secret_env.empty()) {
        auto value = env(h.webhook_secret_env);
        if (!value || trim(*value).empty())
            return tl::unexpected("hooks.webhook_secret_env: environment variable " +
                                  h.webhook_secret_env + " is not set or empty (export it)");
        secret = std::string(trim(*value));
    } else if (!h.webhook_secret_file.empty()) {
        auto text = read_secret_file("hooks.webhook_secret_file", h.webhook_secret_file);
        if (!text) return tl::unexpected(text.error());
        secret = std::string(trim(*text));
        if (secret.empty())
            return tl::unexpected("hooks.webhook_secret_file " + h.webhook_secret_file +
                                  ": the file is empty");
    }
    return secret;
}

}  // namespace vd
