// Placeholder until the subcommand lands; it says so instead of pretending.
#include <cstdio>

#include "daemon/cli.hpp"

namespace vd::cli {

void add_run(CLI::App& app, Globals&, int& rc) {
    auto* cmd = app.add_subcommand("run" == std::string("mock_server") ? "mock-server" : "run",
                                   "(not implemented yet)");
    cmd->allow_extras();
    cmd->callback([&rc] {
        std::fprintf(stderr, "videodrop: this command is not implemented yet\n");
        rc = kFatal;
    });
}

}  // namespace vd::cli
