#include "mock/pattern.hpp"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

namespace vd::mock {
namespace {

constexpr double kPi = 3.14159265358979323846;

// Luma of column u (0..1) at time t: a gradient plus the sweeping bar.
uint8_t luma(double u, double t) {
    double bar = std::fmod(t * 0.5, 1.0);
    if (std::fabs(u - bar) < 1.0 / 24) return 235;
    return static_cast<uint8_t>(40 + 150 * u);
}

// Chroma of row v (0..1) at time t: a hue that drifts down the picture.
void chroma(double v, double t, uint8_t& cb, uint8_t& cr) {
    double a = 2 * kPi * (v + t / 4);
    cb = static_cast<uint8_t>(128 + 90 * std::sin(a));
    cr = static_cast<uint8_t>(128 + 90 * std::cos(a));
}

}  // namespace

void draw_yuv420(AVFrame* frame, int x, int y, int width, int height, double t) {
    // Luma depends on the column only, chroma on the row only: one row each, then copies.
    std::vector<uint8_t> row(static_cast<size_t>(width));
    for (int i = 0; i < width; ++i)
        row[i] = luma((i + 0.5) / width, t);
    for (int j = 0; j < height; ++j)
        std::memcpy(frame->data[0] + (y + j) * frame->linesize[0] + x, row.data(), row.size());
    for (int j = 0; j < height / 2; ++j) {
        uint8_t cb, cr;
        chroma((2 * j + 1.0) / height, t, cb, cr);
        std::memset(frame->data[1] + (y / 2 + j) * frame->linesize[1] + x / 2, cb, width / 2);
        std::memset(frame->data[2] + (y / 2 + j) * frame->linesize[2] + x / 2, cr, width / 2);
    }
}

void draw_rgb24(AVFrame* frame, double t) {
    for (int j = 0; j < frame->height; ++j) {
        uint8_t cb, cr;
        chroma((j + 0.5) / frame->height, t, cb, cr);
        uint8_t* p = frame->data[0] + j * frame->linesize[0];
        for (int i = 0; i < frame->width; ++i) {
            double yv = luma((i + 0.5) / frame->width, t);
            auto clamp = [](double v) {
                return static_cast<uint8_t>(v < 0 ? 0 : v > 255 ? 255 : v);
            };
            p[3 * i] = clamp(yv + 1.402 * (cr - 128));
            p[3 * i + 1] = clamp(yv - 0.344 * (cb - 128) - 0.714 * (cr - 128));
            p[3 * i + 2] = clamp(yv + 1.772 * (cb - 128));
        }
    }
}

}  // namespace vd::mock
