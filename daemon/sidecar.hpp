// The JSON a user reads beside the results (product.md section 5): outbox/NAME.json for a
// delivered job and failed/NAME.error.json for one that failed.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "pipeline/job.hpp"

namespace vd {

// Schema "videodrop.sidecar/1" for a job published as STEM (media from job.media).
nlohmann::json make_sidecar(const Job& job, const std::string& stem, TimePoint delivered,
                            const std::string& version);

// Schema "videodrop.error/1"; `manifest` is null when the manifest did not parse.
nlohmann::json make_error(const std::string& name, const nlohmann::json& manifest,
                          const JobError& e);

}  // namespace vd
