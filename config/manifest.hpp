// Job manifests: .toml, .json and .txt (+ same-stem image) into a JobSpec
// with defaults applied and checked against the provider's model table.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "config/config.hpp"
#include "pipeline/types.hpp"

namespace vd {

struct ManifestProblem {
    std::string file;            // the manifest's path as given
    std::string field;           // "prompt", "seconds", "" for the whole file
    std::string message;         // what is wrong and what to do
    std::string code;            // machine code for error files: "unknown_key", "bad_size", ...
    std::string format() const;  // "inbox/cat.json: seconds: 5 is not allowed ... (use 4, 8 or 12)"
};

// What a delivered job says of its video, for a `remix_of` that names the job.
struct RemixSource {
    std::string video_id;
    std::optional<int> seconds;  // a remix keeps its source's length and size
    std::optional<Size> size;
};
// Looks a delivered job up by name: nullopt when there is none, an error (what is wrong with its
// record) when there is one that cannot be read. The daemon's reads the outbox's sidecars
// (daemon/sidecar.hpp); without one, `remix_of` must be a video id.
using RemixLookup =
    std::function<tl::expected<std::optional<RemixSource>, std::string>(const std::string& name)>;

// Reads and validates one manifest. `dir` is the folder relative paths (images) resolve against
// and must stay inside (no "..", no absolute path, no symlink leaving it). JobSpec.image is set to
// the resolved image path (not yet fitted), image_original to the name as written.
tl::expected<JobSpec, std::vector<ManifestProblem>> read_manifest(const std::string& path,
                                                                  const std::string& dir,
                                                                  const Config& cfg,
                                                                  const RemixLookup& remix = {});

// Whether a file name is a manifest videodrop takes (.toml, .json, .txt; not dotfiles, *.tmp,
// *.part).
bool is_manifest_name(const std::string& filename);
// Whether a stem is a valid job name: [A-Za-z0-9._-]{1,120}.
bool is_valid_name(std::string_view stem);

// The kind of image by its first bytes: "png", "jpeg", "webp" or "" when none of them.
std::string sniff_image(std::string_view first_bytes);

}  // namespace vd
