// Notifications of finished jobs, kept in the state folder until every hook has had them:
//
//   STATE/notify/<job id>.json   one finished job: its outcome, the files a hook is given, and
//                                which of the hook and the webhook are still to be done
//
// A notice is written (durably) before the job's claim goes, so a crash between the outcome and
// its hooks loses nothing: the next start finds the notice and carries it out. `videodrop
// cancel` without a daemon writes one too, and the next start runs its hook.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "config/config.hpp"
#include "pipeline/job.hpp"

namespace vd {

struct Notice {
    std::string id;       // the job's id: one notice per job, ever
    std::string name;     // the job's name
    std::string outcome;  // "delivered", "failed", "cancelled"
    std::string sidecar;  // outbox/STEM.json or failed/STEM.error.json
    std::string mp4;      // outbox/STEM.mp4, "" unless delivered
    std::string error;    // the error code, "" when delivered
    bool hook_done = false;
    bool webhook_done = false;
    int webhook_attempts = 0;
    int64_t next_webhook_ms = 0;  // when the next POST may go (after a failed one)
};

// The notice of a job that ended as `stem` in the outbox (delivered) or failed/ (otherwise).
Notice notice_of(const Job& job, const Paths& paths, const std::string& stem);
// A manifest failed before any job was made of it (`cancel` of an unclaimed one).
Notice notice_of(const std::string& id, const std::string& name, const std::string& error,
                 const Paths& paths, const std::string& stem);

std::string notice_dir(const std::string& state_dir);
// Writes it durably; `only_new`: leaves an existing notice of the same id as it is (and says so
// with false), so a job's outcome seen again after a crash does not notify twice.
tl::expected<bool, std::string> save_notice(const std::string& state_dir, const Notice& n,
                                            bool only_new);
void remove_notice(const std::string& state_dir, const std::string& id);
// Every notice, oldest first; unreadable ones are named in `problems` and left in place.
std::vector<Notice> load_notices(const std::string& state_dir, std::vector<std::string>& problems);

}  // namespace vd
