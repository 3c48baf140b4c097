// The private state folder: job records, claimed inputs, the spend ledger
// and the lock that keeps a second daemon out.
//
//   STATE/lock               flock'ed for the store's life; holds the owner's pid
//   STATE/seq                highest job sequence number that may have been handed out
//   STATE/claimed/<id>/      a job's inputs, renamed out of the inbox
//   STATE/jobs/<id>.json     a job record (corrupt ones are moved aside to <id>.json.corrupt)
//   STATE/ledger.jsonl       one LedgerEntry a line, appended and fsynced
//   STATE/finished.jsonl     an outline of each finished job, for `status` (finished_index.hpp)
//   STATE/limits.json        the scheduler's holds, slowed rates and pauses
//   STATE/refetch/<name>.json  `retry` of a job whose video is paid for: fetch, don't create
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "daemon/finished_index.hpp"
#include "pipeline/job.hpp"
#include "pipeline/ledger.hpp"

namespace vd {

struct Claim {
    std::string id;                       // "<seq>-<stem>~<random tag>", never repeats here
    uint64_t seq = 0;                     // the number in the id: claim order
    std::string dir;                      // STATE/claimed/<id>
    std::string manifest_path;            // dir/<manifest file name>
    std::vector<std::string> companions;  // companion file names that were moved along
};

struct ClaimError {
    enum class Kind {
        taken,  // the manifest vanished from the inbox (another instance claimed it): skip it
        failed  // anything else: the message says what and where
    };
    Kind kind = Kind::failed;
    std::string message;
};

class JobStore {
  public:
    // The layout's names (STATE/<name>), known here and in the read-only view below.
    static constexpr const char* kJobsDir = "jobs";
    static constexpr const char* kClaimedDir = "claimed";
    static constexpr const char* kLedgerFile = "ledger.jsonl";

    // Creates STATE/{jobs,claimed} as needed and locks STATE; fails while another store (in this
    // or another process) holds the lock.
    static tl::expected<JobStore, std::string> open(const std::string& state_dir);

    JobStore(JobStore&& other) noexcept;
    JobStore& operator=(JobStore&& other) noexcept;
    JobStore(const JobStore&) = delete;
    JobStore& operator=(const JobStore&) = delete;
    ~JobStore();

    // Moves INBOX/manifest_filename into a new claim folder, then the companions (plain file names
    // in the inbox; one that is missing is skipped: validation reports it).
    tl::expected<Claim, ClaimError> claim(const std::string& inbox_dir,
                                          const std::string& manifest_filename,
                                          const std::vector<std::string>& companions);
    // Moves the files still in the inbox into an existing claim (skipping missing ones); returns
    // the names moved. For orphans: a crash may have come between the manifest and its image.
    tl::expected<std::vector<std::string>, std::string> adopt(
        const std::string& id, const std::string& inbox_dir, const std::vector<std::string>& files);

    tl::expected<void, std::string> save(const Job& job);

    struct Records {
        std::vector<Job> jobs;              // in claim order
        std::vector<std::string> problems;  // corrupt records, each already moved aside
    };
    Records load_all();

    // Deletes a claim folder once its inputs went to failed/ or the job was delivered.
    tl::expected<void, std::string> remove_claim(const std::string& id);
    std::string claimed_dir(const std::string& id) const;
    // Ids of claim folders that have no job record (a crash between claim and the first save);
    // the caller validates them again. Empty ones are removed at open.
    std::vector<std::string> orphan_claims() const;

    tl::expected<void, std::string> append_ledger(const LedgerEntry& e);
    // A torn last line (a crash mid-append) is ignored; any other bad line is an error.
    tl::expected<std::vector<LedgerEntry>, std::string> load_ledger() const;

    // STATE/limits.json, written durably when a hold, slowed rate or pause changes.
    tl::expected<void, std::string> save_limits(const nlohmann::json& limits);
    // Null when there is none; an unreadable one is reported and treated as none.
    nlohmann::json load_limits(std::string& problem) const;

    // Returns a claim without a job record to the inbox (a crash came between the claim and the
    // first save, so nothing was sent): its files go back, images before the manifest, and
    // `drop` (copies of images kept elsewhere in the inbox) are deleted. Returns the names moved.
    tl::expected<std::vector<std::string>, std::string> unclaim(
        const std::string& id, const std::string& inbox_dir, const std::vector<std::string>& drop);

    const std::string& dir() const { return dir_; }
    // Whether claim `id` was made for a manifest named `name` ("12-cat~3fa9c2d1" for "cat").
    static bool claim_of(const std::string& id, const std::string& name);

  private:
    JobStore(std::string dir, int lock_fd) : dir_(std::move(dir)), lock_fd_(lock_fd) {}
    tl::expected<void, std::string> recover();
    tl::expected<uint64_t, std::string> next_seq();
    std::string record_path(const std::string& id) const;

    std::string dir_;
    int lock_fd_ = -1;
    uint64_t next_seq_ = 1;  // the next number to hand out
    uint64_t reserved_ = 0;  // numbers up to this one are recorded in STATE/seq
};

// The state folder read without the lock (daemon/state_view.cpp), for the management commands;
// the daemon may be writing meanwhile, and what does not parse is skipped with a warning.
namespace state_view {
std::vector<Job> jobs(const std::string& state_dir);  // STATE/jobs/*.json
// The same for `status`, except that a finished job other than the `full_finished` newest is
// only its outline from STATE/finished.jsonl when that names it: a folder of many finished
// jobs is not read record by record.
struct Overview {
    std::vector<Job> jobs;                          // read in full
    std::vector<finished_index::Outline> finished;  // finished jobs only counted
};
Overview overview(const std::string& state_dir, size_t full_finished);
Ledger ledger(const std::string& state_dir);                       // STATE/ledger.jsonl
std::vector<std::string> claim_ids(const std::string& state_dir);  // STATE/claimed/*
}  // namespace state_view

}  // namespace vd
