// The decode pass of verification (verify.level = "decode"): every video and audio packet goes
// through its decoder, with the decoders told to report damage rather than hide it. An MP4 whose
// boxes are intact but whose sample data was wrecked in transit opens, demuxes and has the right
// duration; only here does it fail.
#include "daemon/media_decode.hpp"

#include <memory>
#include <vector>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/error.h>
#include <libavutil/frame.h>
}

#include "daemon/av_util.hpp"

namespace vd {
namespace {

struct Decoder {
    int stream = -1;
    CodecPtr ctx;
    bool video = false;
};

// Decoder of one stream, or null (no decoder for the codec: counted as an error by the caller).
CodecPtr open_decoder(const AVStream* st, std::string& error) {
    const AVCodec* codec = avcodec_find_decoder(st->codecpar->codec_id);
    if (!codec) {
        error = std::string("no decoder for ") + avcodec_get_name(st->codecpar->codec_id);
        return nullptr;
    }
    CodecPtr ctx(avcodec_alloc_context3(codec));
    if (!ctx || avcodec_parameters_to_context(ctx.get(), st->codecpar) < 0) {
        error = "cannot set up the decoder";
        return nullptr;
    }
    ctx->thread_count = 0;  // the decoder's own threads: as many as the machine has
    // Damage is an error, not something to conceal.
    ctx->err_recognition = AV_EF_CRCCHECK | AV_EF_BITSTREAM | AV_EF_BUFFER | AV_EF_EXPLODE;
    ctx->flags2 |= AV_CODEC_FLAG2_SHOW_ALL;
    if (int rc = avcodec_open2(ctx.get(), codec, nullptr); rc < 0) {
        error = "cannot open the decoder: " + av_error_text(rc);
        return nullptr;
    }
    return ctx;
}

void note_error(MediaInfo& info, const std::string& what) {
    if (info.decode_errors++ == 0) info.decode_message = what;
}

// Takes every frame the decoder has ready.
void drain(Decoder& d, AVFrame* frame, MediaInfo& info) {
    for (;;) {
        int rc = avcodec_receive_frame(d.ctx.get(), frame);
        if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) return;
        if (rc < 0) {
            note_error(info,
                       std::string(d.video ? "video" : "audio") + " frame: " + av_error_text(rc));
            return;
        }
        if (frame->decode_error_flags != 0 || (frame->flags & AV_FRAME_FLAG_CORRUPT))
            note_error(info, std::string(d.video ? "video" : "audio") + " frame " +
                                 std::to_string(d.video ? info.decoded_frames : 0) +
                                 " decoded with damage");
        if (d.video) ++info.decoded_frames;
        av_frame_unref(frame);
    }
}

void feed(Decoder& d, const AVPacket* pkt, AVFrame* frame, MediaInfo& info) {
    int rc = avcodec_send_packet(d.ctx.get(), pkt);
    if (rc < 0 && rc != AVERROR_EOF)
        note_error(info,
                   std::string(d.video ? "video" : "audio") + " packet: " + av_error_text(rc));
    drain(d, frame, info);
}

}  // namespace

void decode_pass(const std::string& path, MediaInfo& info) {
    info.decoded = true;
    auto fmt = open_mp4_file(path);
    if (!fmt) {
        note_error(info, fmt.error());
        return;
    }
    AVFormatContext* ctx = fmt->get();
    std::vector<Decoder> decoders;
    for (auto type : {AVMEDIA_TYPE_VIDEO, AVMEDIA_TYPE_AUDIO}) {
        int index = av_find_best_stream(ctx, type, -1, -1, nullptr, 0);
        if (index < 0) continue;
        std::string error;
        CodecPtr codec = open_decoder(ctx->streams[index], error);
        if (!codec) {
            note_error(info, error);
            continue;
        }
        decoders.push_back(Decoder{index, std::move(codec), type == AVMEDIA_TYPE_VIDEO});
    }
    PacketPtr pkt(av_packet_alloc());
    FramePtr frame(av_frame_alloc());
    if (!pkt || !frame) {
        note_error(info, "out of memory");
        return;
    }
    for (;;) {
        int rc = av_read_frame(ctx, pkt.get());
        if (rc == AVERROR_EOF) break;
        if (rc < 0) {
            note_error(info, "reading packets: " + av_error_text(rc));
            break;
        }
        for (auto& d : decoders)
            if (d.stream == pkt->stream_index) feed(d, pkt.get(), frame.get(), info);
        av_packet_unref(pkt.get());
    }
    for (auto& d : decoders)
        feed(d, nullptr, frame.get(), info);  // flush: the frames still inside the decoder
}

}  // namespace vd
