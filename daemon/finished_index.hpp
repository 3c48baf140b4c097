// STATE/finished.jsonl: one line for each job record saved in a finished state (delivered,
// failed, cancelled), so that `status` on a folder of many finished jobs reads one small file
// instead of every record. It is a hint, not a record: appended without fsync after the record
// itself is durable, a line that does not parse is skipped, and a record it does not name is
// read in full. A later line for the same job wins.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>

#include <tl/expected.hpp>

#include "pipeline/job.hpp"

namespace vd::finished_index {

inline constexpr const char* kFile = "finished.jsonl";

// What `status` needs of a finished job it does not show: to count it and to order it.
struct Outline {
    uint64_t seq = 0;
    State state = State::delivered;
    std::string parent;  // a storyboard's shot names its storyboard
};

// Appends `job`'s line (a finished job only) to STATE_DIR/finished.jsonl.
tl::expected<void, std::string> append(const std::string& state_dir, const Job& job);
// The outlines by job id; empty when the file is missing or unreadable.
std::unordered_map<std::string, Outline> read(const std::string& state_dir);

}  // namespace vd::finished_index
