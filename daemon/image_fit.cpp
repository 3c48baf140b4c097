#include "daemon/image_fit.hpp"

#include "daemon/av_util.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/dict.h>
#include <libavutil/error.h>
#include <libavutil/frame.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>
}

namespace vd {
namespace {

struct SwsFree {
    void operator()(SwsContext* ctx) const { sws_freeContext(ctx); }
};
using SwsPtr = std::unique_ptr<SwsContext, SwsFree>;

void quiet_ffmpeg() {
    static std::once_flag once;
    std::call_once(once, [] { av_log_set_level(AV_LOG_QUIET); });
}

// The image's name as the user knows it; the path may point into private state.
std::string name_of(const std::string& path) {
    return std::filesystem::path(path).filename().string();
}

tl::unexpected<std::string> fail(const std::string& path, const std::string& what) {
    return tl::unexpected(name_of(path) + ": " + what);
}

// The demuxer for the image's real type: the extension may lie.
tl::expected<const char*, std::string> sniff(const std::string& path) {
    std::unique_ptr<FILE, decltype(&std::fclose)> file(std::fopen(path.c_str(), "rb"),
                                                       &std::fclose);
    if (!file) return fail(path, std::string("cannot read the image: ") + std::strerror(errno));
    std::array<unsigned char, 12> head{};
    size_t got = std::fread(head.data(), 1, head.size(), file.get());
    auto starts = [&](size_t at, std::string_view magic) {
        return got >= at + magic.size() &&
               std::memcmp(head.data() + at, magic.data(), magic.size()) == 0;
    };
    if (starts(0, "\x89PNG\r\n\x1a\n")) return "png_pipe";
    if (starts(0, "\xff\xd8\xff")) return "jpeg_pipe";
    if (starts(0, "RIFF") && starts(8, "WEBP")) return "webp_pipe";
    return fail(path, "not a PNG, JPEG or WebP image; convert it to one of those");
}

// `max_pixels` is checked by the decoder as soon as it has read the image's header, before the
// picture's memory is allocated: a small file that claims 30000x30000 costs nothing.
tl::expected<FramePtr, std::string> decode(const std::string& path, int64_t max_pixels) {
    quiet_ffmpeg();
    auto demuxer = sniff(path);
    if (!demuxer) return tl::unexpected(demuxer.error());
    AVDictionary* opts = nullptr;
    av_dict_set(&opts, "protocol_whitelist", "file", 0);
    AVFormatContext* raw = nullptr;
    int rc =
        avformat_open_input(&raw, ("file:" + path).c_str(), av_find_input_format(*demuxer), &opts);
    av_dict_free(&opts);
    if (rc < 0) return fail(path, "cannot open the image: " + av_error_text(rc));
    FormatPtr fmt(raw);
    if (fmt->nb_streams < 1) return fail(path, "no image found in the file");

    const AVCodecParameters* par = fmt->streams[0]->codecpar;
    const AVCodec* codec = avcodec_find_decoder(par->codec_id);
    if (!codec) return fail(path, "no decoder for this image type; convert it to PNG");
    CodecPtr dec(avcodec_alloc_context3(codec));
    if (!dec || avcodec_parameters_to_context(dec.get(), par) < 0)
        return fail(path, "out of memory while decoding");
    dec->max_pixels = max_pixels;
    if ((rc = avcodec_open2(dec.get(), codec, nullptr)) < 0)
        return fail(path, "cannot decode the image: " + av_error_text(rc));

    PacketPtr pkt(av_packet_alloc());
    FramePtr frame(av_frame_alloc());
    if (!pkt || !frame) return fail(path, "out of memory while decoding");
    // The first frame is the image (an animated WebP is refused by the decoder itself).
    bool flushing = false;
    for (;;) {
        rc = avcodec_receive_frame(dec.get(), frame.get());
        if (rc >= 0) return frame;
        if (rc != AVERROR(EAGAIN) || flushing) break;
        rc = av_read_frame(fmt.get(), pkt.get());
        if (rc == AVERROR_EOF) {
            flushing = true;
            rc = avcodec_send_packet(dec.get(), nullptr);
        } else if (rc >= 0) {
            rc = pkt->stream_index == 0 ? avcodec_send_packet(dec.get(), pkt.get()) : 0;
            av_packet_unref(pkt.get());
        }
        if (rc < 0) break;
    }
    std::string why = rc == AVERROR_EOF ? "the file holds no complete image" : av_error_text(rc);
    return fail(path, "cannot decode the image (" + why + "); it may be damaged or larger than " +
                          std::to_string(max_pixels / 1'000'000) +
                          " megapixels (intake.max_image_pixels): re-save it as a PNG or JPEG "
                          "of the video's size");
}

FramePtr new_frame(int width, int height, AVPixelFormat format) {
    FramePtr frame(av_frame_alloc());
    if (!frame) return nullptr;
    frame->width = width;
    frame->height = height;
    frame->format = format;
    if (av_frame_get_buffer(frame.get(), 0) < 0) return nullptr;
    return frame;
}

// Scales the `src_w`x`src_h` pixels at `src` into the `dst_w`x`dst_h` pixels at `dst`.
bool scale(const uint8_t* const src[4], const int src_stride[4], int src_w, int src_h,
           AVPixelFormat src_fmt, uint8_t* const dst[4], const int dst_stride[4], int dst_w,
           int dst_h, AVPixelFormat dst_fmt) {
    SwsPtr sws(sws_getContext(src_w, src_h, src_fmt, dst_w, dst_h, dst_fmt,
                              SWS_BICUBIC | SWS_FULL_CHR_H_INT, nullptr, nullptr, nullptr));
    return sws && sws_scale(sws.get(), src, src_stride, 0, src_h, dst, dst_stride) == dst_h;
}

// Packed RGB at the decoded size; RGBA only when the image has transparency to keep.
FramePtr to_rgb(const AVFrame& in) {
    auto fmt = static_cast<AVPixelFormat>(in.format);
    const AVPixFmtDescriptor* desc = av_pix_fmt_desc_get(fmt);
    AVPixelFormat out_fmt =
        desc && (desc->flags & AV_PIX_FMT_FLAG_ALPHA) ? AV_PIX_FMT_RGBA : AV_PIX_FMT_RGB24;
    FramePtr out = new_frame(in.width, in.height, out_fmt);
    if (!out || !scale(in.data, in.linesize, in.width, in.height, fmt, out->data, out->linesize,
                       out->width, out->height, out_fmt))
        return nullptr;
    return out;
}

int bytes_per_pixel(const AVFrame& f) {
    return f.format == AV_PIX_FMT_RGBA ? 4 : 3;
}

// How a JPEG is meant to be shown: FFmpeg turns its EXIF orientation into a display matrix,
// p' = a*p + c*q, q' = b*p + d*q. Phone photos are often stored sideways.
struct Orientation {
    int a = 1, b = 0, c = 0, d = 1;
    bool upright() const { return a == 1 && d == 1; }
    bool turned() const { return a == 0; }  // a quarter turn swaps width and height
};

Orientation orientation_of(const AVFrame& frame) {
    const AVFrameSideData* sd = av_frame_get_side_data(&frame, AV_FRAME_DATA_DISPLAYMATRIX);
    if (!sd || sd->size < 9 * sizeof(int32_t)) return {};
    int32_t m[9];
    std::memcpy(m, sd->data, sizeof m);
    auto unit = [](int32_t v) { return v > 0x8000 ? 1 : v < -0x8000 ? -1 : 0; };  // 16.16 fixed
    Orientation o{unit(m[0]), unit(m[1]), unit(m[3]), unit(m[4])};
    // Only EXIF's eight right-angle cases; anything else is shown as stored.
    bool straight = o.a != 0 && o.d != 0 && o.b == 0 && o.c == 0;
    bool quarter = o.a == 0 && o.d == 0 && o.b != 0 && o.c != 0;
    return straight || quarter ? o : Orientation{};
}

Size shown_size(const AVFrame& frame, Orientation o) {
    return o.turned() ? Size{frame.height, frame.width} : Size{frame.width, frame.height};
}

// Copies a packed RGB frame into the orientation it is meant to be seen in.
FramePtr make_upright(const AVFrame& rgb, Orientation o) {
    Size out = shown_size(rgb, o);
    FramePtr dst = new_frame(out.width, out.height, static_cast<AVPixelFormat>(rgb.format));
    if (!dst) return nullptr;
    int w = rgb.width, h = rgb.height, bpp = bytes_per_pixel(rgb);
    // Shifts that bring the mapped coordinates back to 0..size-1.
    int off_x = (o.a < 0 ? w - 1 : 0) + (o.c < 0 ? h - 1 : 0);
    int off_y = (o.b < 0 ? w - 1 : 0) + (o.d < 0 ? h - 1 : 0);
    for (int q = 0; q < h; ++q) {
        const uint8_t* row = rgb.data[0] + static_cast<ptrdiff_t>(q) * rgb.linesize[0];
        for (int p = 0; p < w; ++p) {
            int x = o.a * p + o.c * q + off_x, y = o.b * p + o.d * q + off_y;
            std::memcpy(dst->data[0] + static_cast<ptrdiff_t>(y) * dst->linesize[0] + x * bpp,
                        row + p * bpp, bpp);
        }
    }
    return dst;
}

// A pointer to pixel (x, y) of a packed RGB frame, as the 4-plane arrays swscale takes.
std::array<uint8_t*, 4> at(const AVFrame& f, int x, int y) {
    return {f.data[0] + static_cast<ptrdiff_t>(y) * f.linesize[0] + x * bytes_per_pixel(f), nullptr,
            nullptr, nullptr};
}

int scaled(int length, int num, int den) {
    return static_cast<int>(std::lround(static_cast<double>(length) * num / den));
}

// Scales to cover the target, centre-cropped: crop the source to the target's aspect, then scale.
FramePtr cover(const AVFrame& rgb, Size target) {
    int w = rgb.width, h = rgb.height;
    bool wider = int64_t{w} * target.height > int64_t{h} * target.width;
    int crop_w = wider ? std::clamp(scaled(h, target.width, target.height), 1, w) : w;
    int crop_h = wider ? h : std::clamp(scaled(w, target.height, target.width), 1, h);
    auto fmt = static_cast<AVPixelFormat>(rgb.format);
    FramePtr out = new_frame(target.width, target.height, fmt);
    auto src = at(rgb, (w - crop_w) / 2, (h - crop_h) / 2);
    if (!out || !scale(src.data(), rgb.linesize, crop_w, crop_h, fmt, out->data, out->linesize,
                       target.width, target.height, fmt))
        return nullptr;
    return out;
}

// Scales to fit inside the target, centred on black.
FramePtr contain(const AVFrame& rgb, Size target) {
    int w = rgb.width, h = rgb.height;
    bool wider = int64_t{w} * target.height > int64_t{h} * target.width;
    int inner_w = wider ? target.width : std::clamp(scaled(w, target.height, h), 1, target.width);
    int inner_h = wider ? std::clamp(scaled(h, target.width, w), 1, target.height) : target.height;
    auto fmt = static_cast<AVPixelFormat>(rgb.format);
    FramePtr out = new_frame(target.width, target.height, fmt);
    if (!out) return nullptr;
    int bpp = bytes_per_pixel(*out);
    for (int y = 0; y < out->height; ++y) {
        uint8_t* row = out->data[0] + static_cast<ptrdiff_t>(y) * out->linesize[0];
        std::memset(row, 0, static_cast<size_t>(out->width) * bpp);
        if (bpp == 4)
            for (int x = 0; x < out->width; ++x)
                row[4 * x + 3] = 255;  // opaque black
    }
    auto dst = at(*out, (target.width - inner_w) / 2, (target.height - inner_h) / 2);
    if (!scale(rgb.data, rgb.linesize, w, h, fmt, dst.data(), out->linesize, inner_w, inner_h, fmt))
        return nullptr;
    return out;
}

tl::expected<void, std::string> write_png(const AVFrame& frame, const std::string& dest) {
    const AVCodec* codec = avcodec_find_encoder(AV_CODEC_ID_PNG);
    CodecPtr enc(codec ? avcodec_alloc_context3(codec) : nullptr);
    if (!enc) return fail(dest, "no PNG encoder in this FFmpeg build");
    enc->width = frame.width;
    enc->height = frame.height;
    enc->pix_fmt = static_cast<AVPixelFormat>(frame.format);
    enc->time_base = AVRational{1, 1};
    PacketPtr pkt(av_packet_alloc());
    int rc = avcodec_open2(enc.get(), codec, nullptr);
    if (rc >= 0) rc = avcodec_send_frame(enc.get(), &frame);
    if (rc >= 0 && pkt) rc = avcodec_receive_packet(enc.get(), pkt.get());
    if (rc < 0 || !pkt) return fail(dest, "cannot encode PNG: " + av_error_text(rc));

    std::unique_ptr<FILE, decltype(&std::fclose)> file(std::fopen(dest.c_str(), "wb"),
                                                       &std::fclose);
    if (!file) return fail(dest, std::string("cannot write: ") + std::strerror(errno));
    size_t size = static_cast<size_t>(pkt->size);
    bool ok = std::fwrite(pkt->data, 1, size, file.get()) == size;
    ok = std::fclose(file.release()) == 0 && ok;
    if (!ok) return fail(dest, std::string("cannot write: ") + std::strerror(errno));
    return {};
}

}  // namespace

tl::expected<void, std::string> fit_frame(const AVFrame& frame, Size target,
                                          const std::string& dest_png) {
    FramePtr rgb = to_rgb(frame);
    if (rgb && (rgb->width != target.width || rgb->height != target.height))
        rgb = cover(*rgb, target);
    if (!rgb) return fail(dest_png, "cannot convert the frame to " + to_string(target) + " RGB");
    return write_png(*rgb, dest_png);
}

tl::expected<Size, std::string> image_size(const std::string& path) {
    auto frame = decode(path, kMaxImagePixels);
    if (!frame) return tl::unexpected(frame.error());
    return shown_size(**frame, orientation_of(**frame));
}

tl::expected<FitResult, std::string> fit_image(const std::string& src, Size target,
                                               const std::string& fit, const std::string& dest_png,
                                               int64_t max_pixels) {
    if (fit != "cover" && fit != "contain" && fit != "exact")
        return fail(src, "image_fit is \"" + fit + "\"; use \"cover\", \"contain\" or \"exact\"");
    if (target.width <= 0 || target.height <= 0)
        return fail(src, "the job's size " + to_string(target) + " is not a picture size");
    auto frame = decode(src, max_pixels);
    if (!frame) return tl::unexpected(frame.error());

    FitResult result;
    Orientation orientation = orientation_of(**frame);
    result.original = shown_size(**frame, orientation);
    result.fit_used = fit;
    result.resized = result.original != target;
    if (result.resized && fit == "exact")
        return fail(src, "image is " + to_string(result.original) + " but the job's size is " +
                             to_string(target) +
                             "; resize it, or set image_fit = \"cover\" or \"contain\"");

    FramePtr rgb = to_rgb(**frame);
    if (rgb && !orientation.upright()) rgb = make_upright(*rgb, orientation);
    if (rgb && result.resized) rgb = fit == "cover" ? cover(*rgb, target) : contain(*rgb, target);
    if (!rgb) return fail(src, "cannot convert the image to " + to_string(target) + " RGB");
    auto written = write_png(*rgb, dest_png);
    if (!written) return tl::unexpected(written.error());
    return result;
}

}  // namespace vd
