#include "pipeline/verdict.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace vd {

namespace {

// "8.00": durations in messages, two decimals.
std::string seconds_text(double s) {
    char buf[32];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, s, std::chars_format::fixed, 2);
    return ec == std::errc{} ? std::string(buf, end) : "?";
}

std::string lower(std::string s) {
    for (char& c : s)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return s;
}

Verdict fail(std::string code, std::string message) {
    return Verdict{false, std::move(code), std::move(message)};
}

}  // namespace

Verdict evaluate(const MediaInfo& info, const Expectation& expect) {
    if (!info.opened)
        return fail("not_mp4",
                    "not an MP4 file" + (info.open_error.empty() ? "" : ": " + info.open_error));
    if (!info.has_video) return fail("no_video", "the file has no video stream");

    if (!expect.codecs.empty()) {
        bool known = false;
        std::string list;
        for (const auto& c : expect.codecs) {
            known = known || lower(c) == lower(info.video_codec);
            list += (list.empty() ? "" : ", ") + c;
        }
        if (!known)
            return fail("bad_codec", "video codec " +
                                         (info.video_codec.empty() ? "unknown" : info.video_codec) +
                                         " is not one of " + list);
    }

    Size got{info.width, info.height};
    // A zero size or duration in the expectation means "not asked": nothing to compare.
    if (expect.size.width > 0 && got != expect.size)
        return fail("wrong_size",
                    "got " + to_string(got) + ", asked for " + to_string(expect.size));

    const double tolerance = static_cast<double>(expect.duration_tolerance.count()) / 1000.0;
    if (expect.seconds > 0 && std::fabs(info.duration - expect.seconds) > tolerance)
        return fail("wrong_duration", "lasts " + seconds_text(info.duration) + " s, asked for " +
                                          std::to_string(expect.seconds) + " s (tolerance " +
                                          seconds_text(tolerance) + " s)");

    // The container's header can be complete while packets are missing (faststart files cut
    // short); only the demux pass sees that.
    if (info.demux_error)
        return fail("truncated", "reading packets failed before the end" +
                                     (info.demux_message.empty() ? "" : ": " + info.demux_message));
    if (info.frames > 0 && info.video_packets < info.frames)
        return fail("truncated", std::to_string(info.video_packets) + " of " +
                                     std::to_string(info.frames) + " packets");
    if (info.last_video_pts < info.duration - tolerance)
        return fail("truncated", "video ends at " + seconds_text(info.last_video_pts) + " s of " +
                                     seconds_text(info.duration) + " s");

    if (info.decoded) {
        // Intact boxes can carry wrecked sample data: only decoding shows it.
        if (info.decode_errors > 0)
            return fail(
                "undecodable",
                std::to_string(info.decode_errors) + " decode error(s) in the media data" +
                    (info.decode_message.empty() ? "" : " (first: " + info.decode_message + ")"));
        double expected = info.fps * std::max(0.0, info.duration - tolerance);
        if (info.fps > 0 && double(info.decoded_frames) + 1 < std::floor(expected))
            return fail("frames_missing",
                        std::to_string(info.decoded_frames) + " frames decoded, " +
                            seconds_text(info.duration) + " s at " + seconds_text(info.fps) +
                            " fps needs at least " + std::to_string(int64_t(expected)));
    }

    if (expect.require_audio && !info.has_audio)
        return fail("no_audio", "the file has no audio stream (verify.require_audio is on)");
    return Verdict{};
}

}  // namespace vd
