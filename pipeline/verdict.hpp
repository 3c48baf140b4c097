// Whether a downloaded file is the video that was asked for: a pure verdict on probe figures.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "pipeline/types.hpp"

namespace vd {

// What the media probe read from a file (daemon/media_probe fills it).
struct MediaInfo {
    bool opened = false;  // opened as MP4
    std::string open_error;
    std::string container;  // "mp4"
    double duration = 0;    // seconds, from the container
    bool has_video = false;
    std::string video_codec;  // "h264", "hevc", ...
    int width = 0, height = 0;
    double fps = 0;
    int64_t frames = 0;         // nb_frames from the stream header (0 when unknown)
    int64_t video_packets = 0;  // counted by the demux pass
    double last_video_pts = 0;  // seconds, end of the last video packet
    bool demux_error = false;   // av_read_frame failed before EOF
    std::string demux_message;
    bool has_audio = false;
    std::string audio_codec;
    int sample_rate = 0, channels = 0;
    int64_t bytes = 0;
    std::string sha256;
    // The decode pass (verify.level = "decode"): every video and audio packet through its decoder.
    bool decoded = false;
    int64_t decoded_frames = 0;  // video frames that came out of the decoder
    int64_t decode_errors = 0;   // packets or frames the decoder rejected or flagged corrupt
    std::string decode_message;  // the first error
};

struct Expectation {
    Size size;
    int seconds = 0;
    Millis duration_tolerance{500};
    bool require_audio = false;
    std::vector<std::string> codecs{"h264", "hevc", "av1", "vp9"};
};

struct Verdict {
    bool ok = true;
    std::string code;     // "not_mp4", "no_video", "wrong_size", "wrong_duration", "truncated", ...
    std::string message;  // for the error file
};

Verdict evaluate(const MediaInfo& info, const Expectation& expect);

}  // namespace vd
