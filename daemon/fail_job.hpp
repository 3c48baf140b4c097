// A failed (or cancelled) job's way out: its claimed inputs into failed/ with NAME.error.json,
// its partial downloads and its claim folder gone. Used by the daemon for the engine's Fail
// command and by `cancel` when no daemon runs.
#pragma once

#include <string>

#include <tl/expected.hpp>

#include "config/config.hpp"
#include "daemon/job_store.hpp"
#include "pipeline/job.hpp"

namespace vd {

// Returns the stem of the error file written ("" when the claim was moved already, before a
// restart: failing is idempotent).
tl::expected<std::string, std::string> move_failed_job(const Paths& paths, JobStore& store,
                                                       const Job& job);

}  // namespace vd
