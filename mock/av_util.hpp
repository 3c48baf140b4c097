// The mock's FFmpeg helpers: the shared handles (av/handles.hpp) and frames to render into.
#pragma once

#include <memory>
#include <string>

#include "av/handles.hpp"

namespace vd::mock::av {

using vd::av::CodecPtr;
using vd::av::error_text;
using vd::av::FramePtr;
using vd::av::PacketPtr;

// A frame with its own buffers, or null.
inline FramePtr make_frame(AVPixelFormat fmt, int width, int height) {
    FramePtr f(av_frame_alloc());
    if (!f) return nullptr;
    f->format = fmt;
    f->width = width;
    f->height = height;
    if (av_frame_get_buffer(f.get(), 0) < 0) return nullptr;
    return f;
}

}  // namespace vd::mock::av
