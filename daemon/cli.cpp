#include "daemon/cli.hpp"

#include <cstdio>

namespace vd::cli {

std::optional<Config> load_config_or_report(const Globals& g) {
    auto path = find_config(g.config);
    if (!path) {
        std::fprintf(stderr,
                     "videodrop: no configuration found (tried --config, $VIDEODROP_CONFIG, "
                     "./videodrop.toml, /etc/videodrop/videodrop.toml); start from "
                     "config/videodrop.example.toml\n");
        return std::nullopt;
    }
    auto cfg = load_config(*path);
    if (!cfg) {
        std::fprintf(stderr, "videodrop: %s\n", cfg.error().c_str());
        return std::nullopt;
    }
    return std::move(*cfg);
}

}  // namespace vd::cli
