// Refetch notes: `videodrop retry NAME` of a job that failed at download or verify leaves
// STATE/refetch/NAME.json before it returns the manifest to the inbox; intake then fetches that
// video again instead of creating (and paying for) a new one. The only module that knows the file.
#pragma once

#include <optional>
#include <string>

#include <tl/expected.hpp>

namespace vd {

struct RefetchNote {
    std::string name;  // the job's name (the manifest's stem)
    std::string provider;
    std::string video_id;
    int key_slot = 0;
    std::string prompt;  // the job's prompt: a note applies only to the same job again
};

tl::expected<void, std::string> write_refetch_note(const std::string& state_dir,
                                                   const RefetchNote& note);
// The note for this job name, if one is there and readable.
std::optional<RefetchNote> read_refetch_note(const std::string& state_dir, const std::string& name);
void remove_refetch_note(const std::string& state_dir, const std::string& name);

}  // namespace vd
