// Helpers shared by the management subcommands (daemon/manage_*.cpp): reading the daemon's state
// without its lock, and text safe to print (moves: daemon/fs_move.hpp).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

#include "pipeline/job.hpp"
#include "pipeline/ledger.hpp"

namespace vd::manage {

// Whether a process holds the flock on STATE/lock (a daemon is running).
bool daemon_running(const std::string& state_dir);

// One line of at most `max_chars` characters (UTF-8 code points; "..." marks a cut), control
// characters replaced by spaces so nothing in a record can move the cursor or break the layout.
std::string one_line(std::string_view text, size_t max_chars);
// The exit code of a command that handled several names: a fatal error (cli::kFatal) outweighs a
// usage mistake (cli::kUsage), which outweighs success.
int worse(int a, int b);
// The first of NAME.json/.toml/.txt that exists in `dir`, or "".
std::string find_manifest(const std::string& dir, const std::string& name);

}  // namespace vd::manage
