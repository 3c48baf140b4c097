// Keeping API keys out of everything that is written down. A provider may quote what it was
// sent (a 400 or 401 that repeats the Authorization header); every answer passes through
// redact() in the HTTP client before anyone reads it, so no log line, job record, error file or
// status report can carry a key.
#pragma once

#include <string>
#include <vector>

#include "pipeline/http.hpp"

namespace vd {

// Every occurrence of every key replaced by "[key]".
std::string redact(std::string text, const std::vector<std::string>& keys);
// The body, header values and transport message of an answer.
void redact(HttpResult& r, const std::vector<std::string>& keys);

}  // namespace vd
