// Test helper: what libavformat sees in an MP4 held in memory.
#pragma once

#include <string>

namespace vd::mock::test {

struct Mp4Info {
    bool opened = false;
    std::string video_codec, audio_codec;
    int width = 0, height = 0;
    double duration = 0;  // seconds, from the container
    int video_packets = 0;
};

Mp4Info probe_mp4(const std::string& bytes);

}  // namespace vd::mock::test
