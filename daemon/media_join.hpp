// The media work of storyboards (libavformat, libavcodec): shots joined into one MP4 by stream
// copy, and the last frame of a shot as the next one's reference image. Synchronous and
// CPU-bound: run them on the threadpool (MediaProber::run).
#pragma once

#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "pipeline/types.hpp"

namespace vd {

// Writes `dest` (MP4, faststart) holding the video and audio of `shots` one after another, the
// packets copied as they are. Refuses shots whose streams differ (codec, size, pixel format,
// sample rate, channels, codec extradata): joining those would need a re-encode. Errors name
// the shot (1-based) and what differs.
tl::expected<void, std::string> join_mp4(const std::vector<std::string>& shots,
                                         const std::string& dest);

// The last decodable frame of `video`, scaled to cover `size` and centre-cropped, as a PNG.
tl::expected<void, std::string> last_frame_png(const std::string& video, Size size,
                                               const std::string& dest_png);

}  // namespace vd
