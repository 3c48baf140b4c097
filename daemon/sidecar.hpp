// The JSON a user reads beside the results: outbox/NAME.json for a
// delivered job and failed/NAME.error.json for one that failed.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "config/manifest.hpp"
#include "pipeline/job.hpp"

namespace vd {

// Schema "videodrop.sidecar/1" for a job published as STEM (media from job.media). A
// storyboard's sidecar lists its `shots` under "storyboard" (null for other jobs).
nlohmann::json make_sidecar(const Job& job, const std::string& stem, TimePoint delivered,
                            const std::string& version, const std::vector<Job>& shots = {});

// The delivered job NAME as a remix source, read from outbox/NAME.json: nullopt when there is no
// such sidecar, an error when it does not say which video it is.
tl::expected<std::optional<RemixSource>, std::string> read_remix_source(const std::string& outbox,
                                                                        const std::string& name);
// read_remix_source on `outbox`, for read_manifest.
RemixLookup remix_lookup(const std::string& outbox);

// Schema "videodrop.error/1"; `manifest` is null when the manifest did not parse.
nlohmann::json make_error(const std::string& name, const nlohmann::json& manifest,
                          const JobError& e);

}  // namespace vd
