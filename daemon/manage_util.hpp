// Helpers shared by the management subcommands (daemon/manage_*.cpp): reading the daemon's state
// without its lock, moving files without replacing any, and text safe to print.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

#include "pipeline/job.hpp"
#include "pipeline/ledger.hpp"

namespace vd::manage {

// Every readable job record in STATE/jobs/*.json. The daemon may be writing: records appear by
// rename, and one that does not parse is skipped (a warning goes to stderr).
std::vector<Job> read_jobs(const std::string& state_dir);
// STATE/ledger.jsonl; a line that does not parse (one being appended) is skipped.
Ledger read_ledger(const std::string& state_dir);
// Whether a process holds the flock on STATE/lock (a daemon is running).
bool daemon_running(const std::string& state_dir);

bool exists(const std::string& path);
// rename(2) that fails with EEXIST instead of replacing. Returns 0 or an errno.
int rename_noreplace(const std::string& from, const std::string& to);
// Moves a file into another folder without replacing anything; across filesystems it copies to
// `staging` (a dotfile beside `to`), fsyncs, renames and removes the source.
tl::expected<void, std::string> move_noreplace(const std::string& from, const std::string& to,
                                               const std::string& staging);
// Copies a file and fsyncs the copy (the caller renames it into place).
tl::expected<void, std::string> copy_durable(const std::string& from, const std::string& to);

// One line of at most `max_chars` characters (UTF-8 code points; "..." marks a cut), control
// characters replaced by spaces so nothing in a record can move the cursor or break the layout.
std::string one_line(std::string_view text, size_t max_chars);
std::string usd(double v);  // "$0.80"
// Money as it goes into JSON: rounded to cents (1.2000000000000002 -> 1.2), so floating-point
// noise never reaches a reader. usd() prints the same rounding.
double round_cents(double usd);
// The exit code of a command that handled several names: a fatal error (cli::kFatal) outweighs a
// usage mistake (cli::kUsage), which outweighs success.
int worse(int a, int b);
// The first of NAME.json/.toml/.txt that exists in `dir`, or "".
std::string find_manifest(const std::string& dir, const std::string& name);

}  // namespace vd::manage
