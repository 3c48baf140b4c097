// Placeholder until the subcommand lands; it says so instead of pretending.
#include <cstdio>

#include "daemon/cli.hpp"

namespace vd::cli {

void add_mock_server(CLI::App& app, Globals&, int& rc) {
    auto* cmd = app.add_subcommand("mock_server" == std::string("mock_server") ? "mock-server" : "mock_server",
                                   "(not implemented yet)");
    cmd->allow_extras();
    cmd->callback([&rc] {
        std::fprintf(stderr, "videodrop: this command is not implemented yet\n");
        rc = kFatal;
    });
}

}  // namespace vd::cli
