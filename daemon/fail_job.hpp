// A failed (or cancelled) job's way out: its claimed inputs into failed/ with NAME.error.json
// and its partial downloads gone. The caller removes the claim folder after that, once the
// outcome is told to the hooks (a crash in between tells it again). Used by the daemon for the
// engine's Fail command and by `cancel` when no daemon runs.
#pragma once

#include <string>

#include <tl/expected.hpp>

#include "config/config.hpp"
#include "daemon/job_store.hpp"
#include "pipeline/job.hpp"

namespace vd {

// Returns the stem of the error file written ("" when the claim is gone already, before a
// restart: failing is idempotent, and the same stem comes back while the claim is there).
tl::expected<std::string, std::string> move_failed_job(const Paths& paths, JobStore& store,
                                                       const Job& job);

}  // namespace vd
