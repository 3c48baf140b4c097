// videodrop: files dropped into a folder become generated videos.
#include <curl/curl.h>

#include <cstdio>

#include <CLI/CLI.hpp>

#include "app/app.hpp"
#include "app/suggest.hpp"
#include "daemon/cli.hpp"

namespace {

// Every subcommand name and every option name (long and short) of the app, for naming a typo.
struct Words {
    std::vector<std::string> subcommands, options, with_value;
};

void collect(const CLI::App& app, Words& w) {
    for (const CLI::Option* opt : app.get_options()) {
        bool takes_value = opt->get_items_expected_min() > 0;
        for (const auto& l : opt->get_lnames()) {
            w.options.push_back("--" + l);
            if (takes_value) w.with_value.push_back("--" + l);
        }
        for (const auto& s : opt->get_snames())
            if (takes_value) w.with_value.push_back("-" + s);
    }
    for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
        w.subcommands.push_back(sub->get_name());
        collect(*sub, w);
    }
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"videodrop: turns job manifests dropped into a folder into generated videos"};
    app.set_version_flag("--version", std::function<std::string()>(vd::cli::version_text));
    app.require_subcommand(1);
    // Subcommands made from here on hand options they do not know to the app, so the global
    // options may come before or after the subcommand.
    app.fallthrough();
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

    Words words;
    collect(app, words);
    std::string unknown =
        vd::cli::unknown_word(argc, argv, words.subcommands, words.options, words.with_value);
    if (!unknown.empty()) {
        std::fprintf(stderr, "videodrop: %s\n", unknown.c_str());
        return vd::cli::kUsage;
    }

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
