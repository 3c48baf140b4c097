// Publishing into outbox/ and failed/. Everything appears there by
// rename(2) of a complete, fsynced file and never replaces an existing one; partial files live only
// in outbox/.tmp/ (and failed/.tmp/ for error files).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <tl/expected.hpp>

#include "config/config.hpp"
#include "pipeline/job.hpp"

namespace vd::delivery {

// Creates outbox/, outbox/.tmp/, failed/ and failed/.tmp/.
tl::expected<void, std::string> prepare(const Paths& paths);

// Where a download goes before it is published: outbox/.tmp/<id>.<variant>.<ext>
// (variant "video" -> .mp4, "thumbnail" -> .webp, "spritesheet" -> .jpg).
std::string tmp_path(const Paths& paths, const std::string& job_id, const std::string& variant);
// Removes a job's leftovers in outbox/.tmp/ (after it failed or was cancelled).
void discard_tmp(const Paths& paths, const std::string& job_id);
// A storyboard's files in outbox/.tmp: its kept shots (and the frames they start from) as
// STORYBOARD.shotN.EXT, N from 1.
std::string shot_path(const Paths& paths, const std::string& storyboard, int shot,
                      const std::string& ext);
// Moves a verified shot's download (job `shot_id`) to `kept`, durably; done before is fine.
tl::expected<void, std::string> keep_shot(const Paths& paths, const std::string& shot_id,
                                          const std::string& kept);
// The storyboard's kept shots and its shots' own leftovers, once it is published or failed.
void discard_shots(const Paths& paths, const Job& storyboard);
// The published file name: "cat.mp4", "cat.thumbnail.webp", "cat.spritesheet.jpg".
std::string output_file(const std::string& stem, const std::string& variant);

// The first of NAME, NAME-2, NAME-3, ... for which none of the outputs exists in outbox/.
// The caller persists it as job.output_name before publish(), so a restart reuses it.
std::string choose_output_name(const Paths& paths, const std::string& name);

// Publishes job.output_name: the variants in job.variants_done, then the MP4, then the sidecar
// (made by make_sidecar for that stem), so a sidecar's presence means complete. Idempotent: after
// a crash part-way, running it again finishes the job (files already in place are checked against
// their sha256). Returns the stem.
tl::expected<std::string, std::string> publish(const Paths& paths, const Job& job,
                                               const nlohmann::json& sidecar);

// Moves `files` (plain names in claimed_dir; missing ones are skipped) into failed/ and writes
// failed/STEM.error.json last. STEM is the first of NAME, NAME-2, ... that collides with nothing;
// on a collision the files are renamed too (cat.json -> cat-2.json, photo.png -> photo-2.png).
// The error file gets "name": STEM and "files": {failed name: original name} so a retry can put
// them back. Idempotent: the choice is recorded in claimed_dir first. Returns the stem.
tl::expected<std::string, std::string> move_to_failed(const Paths& paths,
                                                      const std::string& claimed_dir,
                                                      const std::vector<std::string>& files,
                                                      const std::string& name,
                                                      const nlohmann::json& error_json);

}  // namespace vd::delivery
