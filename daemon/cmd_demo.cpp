// Placeholder until the subcommand lands; it says so instead of pretending.
#include <cstdio>

#include "daemon/cli.hpp"

namespace vd::cli {

void add_demo(CLI::App& app, Globals&, int& rc) {
    auto* cmd = app.add_subcommand("demo" == std::string("mock_server") ? "mock-server" : "demo",
                                   "(not implemented yet)");
    cmd->allow_extras();
    cmd->callback([&rc] {
        std::fprintf(stderr, "videodrop: this command is not implemented yet\n");
        rc = kFatal;
    });
}

}  // namespace vd::cli
