// The FFmpeg helpers the shell shares: error text, and opening a local file as MP4.
#pragma once

#include <memory>
#include <string>

#include <tl/expected.hpp>

struct AVFormatContext;

namespace vd {

// av_strerror's words for an FFmpeg error code.
std::string av_error_text(int code);

struct FormatCloser {
    void operator()(AVFormatContext* ctx) const;
};
using FormatPtr = std::unique_ptr<AVFormatContext, FormatCloser>;

// Opens a local file with the mp4 demuxer forced and only the file protocol allowed (an MP4 may
// reference other URLs, and a path with a colon is not a protocol).
tl::expected<FormatPtr, std::string> open_mp4_file(const std::string& path);

}  // namespace vd
