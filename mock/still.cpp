#include "mock/still.hpp"

#include <algorithm>
#include <cstring>

#include "mock/av_util.hpp"
#include "mock/media.hpp"
#include "mock/pattern.hpp"

namespace vd::mock {
namespace {

constexpr int kSpriteColumns = 5, kSpriteRows = 2, kSpriteTileWidth = 160;

AVPixelFormat input_format(const std::string& codec) {
    return codec == "png" ? AV_PIX_FMT_RGB24 : AV_PIX_FMT_YUV420P;
}

// Encodes one frame with an image codec; the single packet is the whole file.
tl::expected<std::string, std::string> encode(const std::string& codec_name, AVFrame* frame) {
    const AVCodec* codec = avcodec_find_encoder_by_name(codec_name.c_str());
    if (!codec) return tl::unexpected("no " + codec_name + " encoder in libavcodec");
    av::CodecPtr ctx(avcodec_alloc_context3(codec));
    if (!ctx) return tl::unexpected(std::string("out of memory"));
    ctx->width = frame->width;
    ctx->height = frame->height;
    ctx->pix_fmt = static_cast<AVPixelFormat>(frame->format);
    ctx->time_base = {1, 25};
    ctx->log_level_offset = AV_LOG_DEBUG - AV_LOG_INFO;  // no encoder chatter; errors still show
    // mjpeg takes plain yuv420p when told the samples are full range.
    ctx->color_range = AVCOL_RANGE_JPEG;
    if (int err = avcodec_open2(ctx.get(), codec, nullptr); err < 0)
        return tl::unexpected("cannot open " + codec_name + ": " + av::error_text(err));
    frame->pts = 0;
    if (int err = avcodec_send_frame(ctx.get(), frame); err < 0)
        return tl::unexpected(codec_name + " encode: " + av::error_text(err));
    avcodec_send_frame(ctx.get(), nullptr);
    av::PacketPtr pkt(av_packet_alloc());
    std::string out;
    while (pkt && avcodec_receive_packet(ctx.get(), pkt.get()) == 0) {
        out.append(reinterpret_cast<const char*>(pkt->data), static_cast<size_t>(pkt->size));
        av_packet_unref(pkt.get());
    }
    if (out.empty()) return tl::unexpected(codec_name + " produced no image");
    return out;
}

}  // namespace

tl::expected<std::string, std::string> render_still(const std::string& codec, Size size, double t) {
    auto fmt = input_format(codec);
    auto frame = av::make_frame(fmt, size.width, size.height);
    if (!frame) return tl::unexpected(std::string("cannot allocate a frame"));
    if (fmt == AV_PIX_FMT_RGB24)
        draw_rgb24(frame.get(), t);
    else {
        // Odd sizes leave a last row or column the pattern does not reach: make it black.
        std::memset(frame->data[0], 16, static_cast<size_t>(frame->linesize[0]) * size.height);
        for (int p = 1; p < 3; ++p)
            std::memset(frame->data[p], 128,
                        static_cast<size_t>(frame->linesize[p]) * ((size.height + 1) / 2));
        draw_yuv420(frame.get(), 0, 0, size.width & ~1, size.height & ~1, t);
    }
    return encode(codec, frame.get());
}

tl::expected<Still, std::string> render_thumbnail(Size size, double t) {
    if (avcodec_find_encoder_by_name("libwebp")) {
        auto webp = render_still("libwebp", size, t);
        if (!webp) return tl::unexpected(webp.error());
        return Still{std::move(*webp), "image/webp"};
    }
    auto jpeg = render_still("mjpeg", size, t);
    if (!jpeg) return tl::unexpected(jpeg.error());
    return Still{std::move(*jpeg), "image/jpeg"};
}

tl::expected<Still, std::string> render_spritesheet(Size size, int seconds) {
    int tw = kSpriteTileWidth;
    int th = std::max(2, (tw * size.height / std::max(1, size.width)) & ~1);
    auto sheet = av::make_frame(AV_PIX_FMT_YUV420P, tw * kSpriteColumns, th * kSpriteRows);
    if (!sheet) return tl::unexpected(std::string("cannot allocate a frame"));
    int tiles = kSpriteColumns * kSpriteRows;
    for (int k = 0; k < tiles; ++k) {
        double t = static_cast<double>(k) * seconds / tiles;
        draw_yuv420(sheet.get(), (k % kSpriteColumns) * tw, (k / kSpriteColumns) * th, tw, th, t);
    }
    auto jpeg = encode("mjpeg", sheet.get());
    if (!jpeg) return tl::unexpected(jpeg.error());
    return Still{std::move(*jpeg), "image/jpeg"};
}

}  // namespace vd::mock
