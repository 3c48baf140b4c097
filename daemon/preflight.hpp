// The folders checked before any work, so that a setup that cannot work says so at once instead
// of claiming nothing: each of inbox, outbox, failed and state must be writable (or, when not
// made yet, its nearest existing parent), and inbox and state must share a filesystem, because
// a claim is a rename. outbox and failed may live elsewhere: results and failed inputs cross by
// copy, fsync and rename.
#pragma once

#include <string>
#include <vector>

#include "config/config.hpp"

namespace vd {

// One message per problem, naming the folder, the key of [paths] and the fix; empty when none.
std::vector<std::string> preflight(const Paths& paths);

}  // namespace vd
