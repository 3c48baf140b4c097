// The fields of a parsed manifest (TOML and JSON alike, as JSON) into a JobSpec.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "config/config.hpp"
#include "config/manifest_check.hpp"

namespace vd {

// Fills `job` (name and file already set) from the manifest object `m`, applying the defaults
// and checking against the model table; every problem goes into `check`.
void check_fields(const nlohmann::json& m, const std::string& dir, const Config& cfg, JobSpec& job,
                  ManifestCheck& check);

}  // namespace vd
