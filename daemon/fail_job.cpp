#include "daemon/fail_job.hpp"

#include <sys/stat.h>

#include <algorithm>

#include "daemon/delivery.hpp"
#include "daemon/sidecar.hpp"

namespace vd {

tl::expected<std::string, std::string> move_failed_job(const Paths& paths, JobStore& store,
                                                       const Job& job) {
    std::string dir = store.claimed_dir(job.id);
    struct stat st;
    if (::stat(dir.c_str(), &st) != 0) return std::string();
    std::vector<std::string> files{job.spec.manifest_file};
    for (const auto& c : job.spec.companion_files)
        files.push_back(c);
    if (!job.spec.image_original.empty() &&
        std::find(files.begin(), files.end(), job.spec.image_original) == files.end())
        files.push_back(job.spec.image_original);
    JobError e = job.error.value_or(JobError::make("deliver", "unknown", ""));
    auto moved = delivery::move_to_failed(paths, dir, files, job.spec.name,
                                          make_error(job.spec.name, job.spec.manifest, e));
    if (!moved) return tl::unexpected(moved.error());
    delivery::discard_shots(paths, job);  // its downloads, and a storyboard's shots
    return *moved;
}

}  // namespace vd
