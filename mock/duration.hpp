// Durations on the mock-server command line: "300ms", "2s", "1m", "1h" (a bare 0 is allowed).
#pragma once

#include <optional>
#include <string_view>

#include "pipeline/types.hpp"

namespace vd::mock {

std::optional<Millis> parse_duration(std::string_view text);

}  // namespace vd::mock
