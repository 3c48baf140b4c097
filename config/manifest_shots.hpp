// A storyboard (`shots`) in a manifest.
#pragma once

#include <nlohmann/json.hpp>

#include "config/config.hpp"
#include "config/manifest_check.hpp"

namespace vd {

// Checks `shots` (2 to 10 {seconds, prompt} tables, instead of prompt and seconds) and
// `continuity`. A chat-sse provider makes a storyboard itself: the job becomes one generation
// whose prompt is in the server's own syntax ("[4.0s]first shot [4.0s]second shot") and whose
// seconds are the sum, which the model must offer. At other providers each shot is a generation
// of its own (job.shots), so each shot's seconds must be ones the model offers; the job's
// seconds are their sum and its prompt the shots' in the same syntax, for people to read.
void check_shots(const nlohmann::json& m, const Config& cfg, const ModelSpec* model, JobSpec& job,
                 ManifestCheck& check);

}  // namespace vd
