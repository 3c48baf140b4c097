// Whether a file seen in the inbox is ready to claim, should be looked at again, or never will be.
// Pure: the watcher passes in what stat() said, what it remembered, and the time.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "pipeline/types.hpp"

namespace vd::intake {

enum class Readiness {
    ready,   // claim it now
    wait,    // still settling: look again at recheck_at
    ignore,  // not a manifest (dotfile, partial upload, image, anything else): leave it alone
    reject,  // a manifest name that cannot be taken (symlink, not a file, bad name, too big)
};
std::string_view to_string(Readiness r);

// What one scan saw of an inbox entry (lstat, so a symlink is seen as one).
struct FileObservation {
    std::string name;  // file name within the inbox, no directory
    int64_t size = 0;
    int64_t mtime_ns = 0;
    bool regular = true;
    bool symlink = false;
    Millis age{-1};  // since the last modification, by the wall clock; negative: unknown
    // Whether some process holds it open for writing: yes, no, or cannot tell (the lease check
    // needs the file's owner or CAP_LEASE).
    std::optional<bool> open_for_writing;
    // The watch saw it renamed into the inbox and saw no write since: complete, by the maildir
    // convention (write a temporary name, then rename it in).
    bool renamed_in = false;
};

// What the watcher remembers of a file between scans.
struct SeenBefore {
    int64_t size = 0;
    int64_t mtime_ns = 0;
    TimePoint first_seen_stable{};  // when size and mtime were first seen as they are now
};

struct IntakeDecision {
    Readiness readiness = Readiness::ignore;
    std::string reason;                   // for reject (the error file) and wait (logs)
    std::optional<SeenBefore> remember;   // what to keep for the next scan; nullopt = forget it
    std::optional<TimePoint> recheck_at;  // for wait: when it may become ready
};

// A file still open for writing is never ready. Otherwise it is ready at once when it was renamed
// in, or last modified `settle` or more ago; else once its size and mtime have held for
// `settle`. With a zero settle a manifest is ready when first seen.
IntakeDecision decide(const FileObservation& now_obs, const std::optional<SeenBefore>& prev,
                      TimePoint now, Millis settle, int64_t max_bytes);

// Whether a file has held its size and mtime for `settle` (decide() uses it for manifests; the
// watcher for reference images, which are never claimed alone but must not be taken along while
// still being written). `remember` is kept for the next scan.
struct Settling {
    bool still_settling = false;
    SeenBefore remember;
    TimePoint settled_at{};  // when it will have held still long enough
};
Settling settle_state(const FileObservation& obs, const std::optional<SeenBefore>& prev,
                      TimePoint now, Millis settle);

// Whether `manifest` must wait for the settling image `image`: a .txt takes only the image of
// its own stem; a .toml or .json may name any image, so it waits for every settling one.
bool may_take_image(std::string_view manifest, std::string_view image);

// "cat.toml", "cat.json", "cat.txt".
bool is_manifest_name(std::string_view name);
// A reference image that travels with a manifest: .png .jpg .jpeg .webp (any case).
bool is_image_name(std::string_view name);
// A job name (a manifest's stem): [A-Za-z0-9._-]{1,120}.
bool is_valid_job_name(std::string_view stem);

}  // namespace vd::intake
