// Placeholder until the subcommand lands; it says so instead of pretending.
#include <cstdio>

#include "daemon/cli.hpp"

namespace vd::cli {

void add_manage(CLI::App& app, Globals&, int& rc) {
    auto* cmd = app.add_subcommand("manage" == std::string("mock_server") ? "mock-server" : "manage",
                                   "(not implemented yet)");
    cmd->allow_extras();
    cmd->callback([&rc] {
        std::fprintf(stderr, "videodrop: this command is not implemented yet\n");
        rc = kFatal;
    });
}

}  // namespace vd::cli
