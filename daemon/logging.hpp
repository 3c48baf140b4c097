// Log lines that say what they are about. Under systemd (stderr is the journal) each line is
// sent to journald natively with its priority and these as fields (VIDEODROP_JOB,
// VIDEODROP_PROVIDER, VIDEODROP_VIDEO_ID, VIDEODROP_REQUEST_ID); with log.format = "json" they
// are keys of the line's object; in text they are already in the words.
#pragma once

#include <string_view>

#include <spdlog/common.h>

#include "pipeline/job.hpp"

namespace vd {

struct LogFields {
    std::string_view job, provider, video_id, request_id;  // empty: not about one
};

void log_with_fields(spdlog::level::level_enum level, const LogFields& fields,
                     std::string_view text);

// A line about a job: "job=NAME " + `text`, with the job's name, provider, video id and latest
// request id as fields.
void log_job(spdlog::level::level_enum level, const Job& job, std::string_view text);

}  // namespace vd
