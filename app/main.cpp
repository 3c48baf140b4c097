// videodrop: files dropped into a folder become generated videos.
#include <curl/curl.h>

#include <CLI/CLI.hpp>

#include "app/app.hpp"
#include "daemon/cli.hpp"

int main(int argc, char** argv) {
    CLI::App app{"videodrop: turns job manifests dropped into a folder into generated videos"};
    app.set_version_flag("--version", std::string("videodrop ") + VD_VERSION);
    app.require_subcommand(1);
    vd::cli::Globals globals;
    globals.local_servers = vd::cli::start_builtin_mocks;
    app.add_option("-c,--config", globals.config,
                   "config file (default: $VIDEODROP_CONFIG, ./videodrop.toml, "
                   "/etc/videodrop/videodrop.toml)");
    app.add_option("--log-level", globals.log_level, "trace, debug, info, warn or error")
        ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));

    int rc = vd::cli::kOk;
    vd::cli::add_run(app, globals, rc);
    vd::cli::add_demo(app, globals, rc);
    vd::cli::add_validate(app, globals, rc);
    vd::cli::add_manage(app, globals, rc);
    vd::cli::add_mock_server(app, globals, rc);

    curl_global_init(CURL_GLOBAL_DEFAULT);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        int code = app.exit(e);
        curl_global_cleanup();
        return code == 0 ? 0 : vd::cli::kUsage;
    }
    curl_global_cleanup();
    return rc;
}
