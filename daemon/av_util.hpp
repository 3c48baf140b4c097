// The shell's FFmpeg helpers: the shared handles (av/handles.hpp), and opening a local file as
// MP4.
#pragma once

#include <memory>
#include <string>

#include <tl/expected.hpp>

#include "av/handles.hpp"

namespace vd {

using FormatPtr = av::InputPtr;
using av::CodecPtr;
using av::FramePtr;
using av::PacketPtr;
inline std::string av_error_text(int code) {
    return av::error_text(code);
}

// Opens a local file with the mp4 demuxer forced and only the file protocol allowed (an MP4 may
// reference other URLs, and a path with a colon is not a protocol).
tl::expected<FormatPtr, std::string> open_mp4_file(const std::string& path);

}  // namespace vd
