// The moving test pattern: a colour gradient whose hue drifts with time and a bright bar that
// sweeps across the picture every two seconds. Scale-free, so previews draw it at any size.
#pragma once

extern "C" {
#include <libavutil/frame.h>
}

namespace vd::mock {

// Draws the pattern at time `t` (seconds) into the rectangle of a YUV420P frame.
// x, y, width and height must be even.
void draw_yuv420(AVFrame* frame, int x, int y, int width, int height, double t);
// The same picture for an RGB24 frame (PNG stills).
void draw_rgb24(AVFrame* frame, double t);

}  // namespace vd::mock
