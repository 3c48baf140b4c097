// The executable's own parts: the fake provider and what uses it (`demo`, `mock-server`, and
// the built-in mock of `protocol = "mock"`). The daemon library does not link the mock.
#pragma once

#include <memory>
#include <optional>

#include "daemon/cli.hpp"

namespace vd::cli {

void add_demo(CLI::App& app, Globals& g, int& rc);         // demo
void add_mock_server(CLI::App& app, Globals& g, int& rc);  // mock-server

// A self-served provider (protocol = "mock") without a base_url is served by the built-in
// mock, in this process on a free loopback port, for as long as the holder lives.
std::optional<std::shared_ptr<void>> start_builtin_mocks(DaemonSetup& setup);

}  // namespace vd::cli
