// Finding and loading the config file; relative paths in it are relative to the file's folder.
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "config/config.hpp"

namespace vd {
namespace {

namespace fs = std::filesystem;

constexpr std::uintmax_t kMaxConfigBytes = 1024 * 1024;

// A config under /etc names spool folders absolutely; one beside a project (tests, demos) can
// say "inbox" and mean the folder next to it, wherever the command runs from.
void anchor(std::string& path, const fs::path& base) {
    if (!path.empty() && fs::path(path).is_relative())
        path = (base / path).lexically_normal().string();
}

}  // namespace

tl::expected<Config, std::string> load_config(const std::string& path) {
    std::error_code ec;
    auto size = fs::file_size(path, ec);
    if (ec) return tl::unexpected(path + ": cannot read the config file: " + ec.message());
    if (size > kMaxConfigBytes)
        return tl::unexpected(path +
                              ": the config file is larger than 1 MiB; is it the right file?");
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    if (!in) return tl::unexpected(path + ": cannot read the config file: " + std::strerror(errno));

    if (text.str().find_first_not_of(" \t\r\n") == std::string::npos)
        return tl::unexpected(path +
                              ": the config file is empty; start from videodrop.example.toml "
                              "(it needs at least a [providers.NAME] table)");
    auto cfg = parse_config(text.str(), path);
    if (!cfg) return cfg;
    if (cfg->providers.empty())
        return tl::unexpected(path +
                              ": no provider is configured, so no job could ever be sent; add a "
                              "[providers.NAME] table with base_url and its models (see "
                              "videodrop.example.toml)");
    fs::path base = fs::absolute(path, ec).parent_path();
    for (std::string* p :
         {&cfg->paths.inbox, &cfg->paths.outbox, &cfg->paths.failed, &cfg->paths.state,
          &cfg->metrics_textfile, &cfg->hooks.webhook_secret_file})
        anchor(*p, base);
    // A hook's program named by a relative path ("./notify.sh", "bin/x") is beside the config;
    // a bare name is looked up in PATH.
    for (auto* argv : {&cfg->hooks.on_delivered, &cfg->hooks.on_failed})
        if (!argv->empty() && argv->front().find('/') != std::string::npos)
            anchor(argv->front(), base);
    for (auto& [name, provider] : cfg->providers) {
        anchor(provider.api_key_file, base);
        anchor(provider.keys_file, base);
    }
    if (auto overlap = overlapping_paths(cfg->paths)) return tl::unexpected(path + ": " + *overlap);
    return cfg;
}

std::optional<std::string> find_config(const std::string& explicit_path) {
    if (!explicit_path.empty()) return explicit_path;
    if (const char* env = std::getenv("VIDEODROP_CONFIG"); env && *env) return std::string(env);
    for (const char* candidate : {"./videodrop.toml", "/etc/videodrop/videodrop.toml"}) {
        std::error_code ec;
        if (fs::exists(candidate, ec)) return std::string(candidate);
    }
    return std::nullopt;
}

}  // namespace vd
