// The decode pass of MP4 verification (libavcodec). Synchronous and CPU-bound: run it on the
// threadpool (probe_mp4 does, through MediaProber).
#pragma once

#include <string>

#include "pipeline/verdict.hpp"

namespace vd {

// Decodes every video and audio packet of the file; fills info.decoded, decoded_frames,
// decode_errors and decode_message. Never throws.
void decode_pass(const std::string& path, MediaInfo& info);

}  // namespace vd
