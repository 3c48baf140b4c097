#include "config/hooks_config.hpp"

namespace vd {

namespace {

constexpr const char* kPlaceholders[] = {"{name}", "{sidecar}", "{error}", "{mp4}"};

// An argv: a program and its arguments, each placeholder one the hook can be given.
void read_argv(TableReader& r, const char* key, std::vector<std::string>& out) {
    if (!r.read_strings(key, out)) return;
    if (out.empty()) return;  // no hook
    if (out.front().empty()) {
        r.error(key,
                "the program (the first element) is empty; name one, e.g. "
                "[\"/usr/local/bin/notify\", \"{name}\"]");
        return;
    }
    for (const auto& arg : out)
        for (size_t at = arg.find('{'); at != std::string::npos; at = arg.find('{', at + 1)) {
            size_t end = arg.find('}', at);
            std::string word = arg.substr(at, end == std::string::npos ? end : end - at + 1);
            bool known = false;
            for (const char* p : kPlaceholders)
                known |= word == p;
            if (!known)
                return r.error(key, "\"" + arg + "\" has " + word +
                                        ", which is not a placeholder (use {name}, {sidecar}, "
                                        "{error} or {mp4})");
        }
}

}  // namespace

void read_hooks(const toml::table& t, HooksConfig& h, ConfigErrors& errors) {
    TableReader r(t, "hooks", errors);
    read_argv(r, "on_delivered", h.on_delivered);
    read_argv(r, "on_failed", h.on_failed);
    if (r.read_duration("timeout", h.timeout) && h.timeout < Millis{100})
        r.error("timeout", "must be at least 100ms");
    r.read_int("max_running", h.max_running, 1, 64);
    if (r.read_string("webhook_url", h.webhook_url) && !h.webhook_url.empty() &&
        h.webhook_url.rfind("http://", 0) != 0 && h.webhook_url.rfind("https://", 0) != 0)
        r.error("webhook_url", "must start with http:// or https://");
    r.read_string("webhook_secret_env", h.webhook_secret_env);
    r.read_string("webhook_secret_file", h.webhook_secret_file);
    if (!h.webhook_secret_env.empty() && !h.webhook_secret_file.empty())
        r.error("webhook_secret_file",
                "give only one of webhook_secret_env or webhook_secret_file");
    if ((!h.webhook_secret_env.empty() || !h.webhook_secret_file.empty()) && h.webhook_url.empty())
        r.error("webhook_url", "missing: a webhook secret is set, but no webhook_url to sign for");
    if (r.get("webhook_secret"))
        r.error("webhook_secret",
                "the secret does not go in the config file; use webhook_secret_env = \"NAME\" "
                "or webhook_secret_file = \"PATH\"");
    r.read_int("webhook_attempts", h.webhook_attempts, 1, 100);
    r.finish();
}

}  // namespace vd
