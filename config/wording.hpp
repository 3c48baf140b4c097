// Small helpers that make error messages say what to do.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace vd {

// " (did you mean min_interval?)" when a candidate is a close spelling of `word`, else "".
std::string did_you_mean(std::string_view word, const std::vector<std::string>& candidates);

// "a", "a or b", "a, b or c"; each value once, in the order first given.
std::string one_of(const std::vector<std::string>& items);
// " (use a or b)"; when there is nothing to choose from, says so instead of an empty hint.
std::string use_hint(const std::vector<std::string>& items);

// Without leading and trailing ASCII whitespace.
std::string_view trim(std::string_view text);

}  // namespace vd
