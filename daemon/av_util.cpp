#include "daemon/av_util.hpp"

extern "C" {
#include <libavformat/avformat.h>
#include <libavutil/dict.h>
#include <libavutil/error.h>
}

namespace vd {

tl::expected<FormatPtr, std::string> open_mp4_file(const std::string& path) {
    AVDictionary* opts = nullptr;
    av_dict_set(&opts, "protocol_whitelist", "file", 0);
    AVFormatContext* raw = nullptr;
    int rc =
        avformat_open_input(&raw, ("file:" + path).c_str(), av_find_input_format("mp4"), &opts);
    av_dict_free(&opts);
    if (rc < 0) return tl::unexpected(av_error_text(rc));  // FFmpeg freed the context on failure
    return FormatPtr(raw);
}

}  // namespace vd
