// Cancel requests: `videodrop cancel NAME` while a daemon runs leaves an empty STATE/cancel/NAME;
// the daemon takes them as they arrive (and at start). Both sides of the format are here.
#pragma once

#include <string>
#include <vector>

#include <tl/expected.hpp>

namespace vd::cancel_requests {

// The folder the requests are left in (the daemon watches it).
std::string folder(const std::string& state_dir);
// Leaves the request durably; one already there is the same request.
tl::expected<void, std::string> request(const std::string& state_dir, const std::string& name);
// The names asked for so far.
std::vector<std::string> pending(const std::string& state_dir);
// Removes a request once it is applied (recorded): a crash before leaves it to apply again.
void done(const std::string& state_dir, const std::string& name);

}  // namespace vd::cancel_requests
