// Naming what the user mistyped: the closest known word, by edit distance.
#pragma once

#include <string>
#include <vector>

namespace vd::cli {

// The candidate nearest to `word` when it is near enough to be a likely typo (at most a third of
// its letters off), else "".
std::string closest(const std::string& word, const std::vector<std::string>& candidates);

// Looks at the command line before CLI11 does: the first word that is not an option (or an
// option's value) must be a subcommand, and every --long option must be one of `options`.
// Returns the message for the first unknown one ("" when all are known).
std::string unknown_word(int argc, const char* const* argv,
                         const std::vector<std::string>& subcommands,
                         const std::vector<std::string>& options,
                         const std::vector<std::string>& options_with_value);

// "videodrop 0.1.0" and the versions of the libraries it runs on.
std::string version_text();

}  // namespace vd::cli
