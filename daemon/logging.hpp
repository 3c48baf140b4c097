// Log lines that say what they are about. Under systemd (stderr is the journal) each line is
// sent to journald natively with its priority and these as fields (VIDEODROP_JOB,
// VIDEODROP_PROVIDER, VIDEODROP_VIDEO_ID, VIDEODROP_REQUEST_ID); with log.format = "json" they
// are keys of the line's object; in text they are already in the words. The engine's Log
// commands carry them (job_log, provider_log in pipeline/engine.hpp).
#pragma once

#include <string_view>

#include <spdlog/common.h>

namespace vd {

struct LogFields {
    std::string_view job, provider, video_id, request_id;  // empty: not about one
};

void log_with_fields(spdlog::level::level_enum level, const LogFields& fields,
                     std::string_view text);

}  // namespace vd
