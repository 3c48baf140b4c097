#include "mock/media.hpp"

#include <stdlib.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "mock/av_util.hpp"
#include "mock/pattern.hpp"
#include "mock/still.hpp"

extern "C" {
#include <libavutil/channel_layout.h>
#include <libavutil/log.h>
#include <libavutil/opt.h>
}

namespace vd::mock {
namespace {

constexpr int kSampleRate = 48000;
// Encoder chatter (x264's stats, AAC's Qavg) two levels down: errors still show, as info.
constexpr int kQuieter = AV_LOG_DEBUG - AV_LOG_INFO;
constexpr double kPi = 3.14159265358979323846;

using Error = tl::unexpected<std::string>;

// The mp4 muxer writes faststart files by re-reading its output, which needs a real file: the
// clip is muxed into a temporary file that lives only for the render.
struct TempFile {
    std::string path;
    TempFile() {
        auto dir = std::filesystem::temp_directory_path().string();
        std::string pattern = dir + "/videodrop-mock-XXXXXX.mp4";
        int fd = mkstemps(pattern.data(), 4);
        if (fd >= 0) {
            close(fd);
            path = pattern;
        }
    }
    ~TempFile() {
        if (!path.empty()) unlink(path.c_str());
    }
};

struct Output {
    AVFormatContext* ctx = nullptr;
    ~Output() {
        if (!ctx) return;
        if (ctx->pb) avio_closep(&ctx->pb);
        avformat_free_context(ctx);
    }
};

struct Track {
    av::CodecPtr codec;
    AVStream* stream = nullptr;
};

tl::expected<Track, std::string> open_video(AVFormatContext* oc, Size size) {
    const AVCodec* codec = avcodec_find_encoder_by_name("libx264");
    if (!codec) codec = avcodec_find_encoder(AV_CODEC_ID_H264);
    if (!codec) return Error("libavcodec has no H.264 encoder");
    av::CodecPtr c(avcodec_alloc_context3(codec));
    c->width = size.width;
    c->height = size.height;
    c->pix_fmt = AV_PIX_FMT_YUV420P;
    c->time_base = {1, kFps};
    c->framerate = {kFps, 1};
    c->gop_size = kFps * 2;
    c->thread_count = 1;  // a render is short; threads would cost more than they save
    c->log_level_offset = kQuieter;
    if (oc->oformat->flags & AVFMT_GLOBALHEADER) c->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    av_opt_set(c->priv_data, "preset", "ultrafast", 0);
    av_opt_set(c->priv_data, "tune", "zerolatency", 0);
    av_opt_set(c->priv_data, "crf", "38", 0);  // small files: downloads stay cheap
    if (int err = avcodec_open2(c.get(), codec, nullptr); err < 0)
        return Error("cannot open the H.264 encoder: " + av::error_text(err));
    AVStream* st = avformat_new_stream(oc, nullptr);
    if (!st) return Error("cannot add a video stream");
    avcodec_parameters_from_context(st->codecpar, c.get());
    st->time_base = c->time_base;
    return Track{std::move(c), st};
}

tl::expected<Track, std::string> open_audio(AVFormatContext* oc) {
    const AVCodec* codec = avcodec_find_encoder(AV_CODEC_ID_AAC);
    if (!codec) return Error("libavcodec has no AAC encoder");
    av::CodecPtr c(avcodec_alloc_context3(codec));
    c->sample_fmt = AV_SAMPLE_FMT_FLTP;
    c->sample_rate = kSampleRate;
    av_channel_layout_default(&c->ch_layout, 2);
    c->bit_rate = 64000;
    c->time_base = {1, kSampleRate};
    c->log_level_offset = kQuieter;
    if (oc->oformat->flags & AVFMT_GLOBALHEADER) c->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    if (int err = avcodec_open2(c.get(), codec, nullptr); err < 0)
        return Error("cannot open the AAC encoder: " + av::error_text(err));
    AVStream* st = avformat_new_stream(oc, nullptr);
    if (!st) return Error("cannot add an audio stream");
    avcodec_parameters_from_context(st->codecpar, c.get());
    st->time_base = c->time_base;
    return Track{std::move(c), st};
}

// Sends a frame (null: flush) and writes every packet the encoder has ready.
tl::expected<void, std::string> encode(AVFormatContext* oc, Track& track, AVFrame* frame,
                                       AVPacket* pkt) {
    if (int err = avcodec_send_frame(track.codec.get(), frame); err < 0)
        return Error("encode: " + av::error_text(err));
    for (;;) {
        int err = avcodec_receive_packet(track.codec.get(), pkt);
        if (err == AVERROR(EAGAIN) || err == AVERROR_EOF) return {};
        if (err < 0) return Error("encode: " + av::error_text(err));
        if (pkt->duration == 0 && track.codec->codec_type == AVMEDIA_TYPE_VIDEO) pkt->duration = 1;
        av_packet_rescale_ts(pkt, track.codec->time_base, track.stream->time_base);
        pkt->stream_index = track.stream->index;
        if (int werr = av_interleaved_write_frame(oc, pkt); werr < 0)
            return Error("mux: " + av::error_text(werr));
    }
}

// A soft 440 Hz beep at the start of every second.
void fill_tone(AVFrame* f, int64_t first_sample) {
    for (int i = 0; i < f->nb_samples; ++i) {
        int64_t n = first_sample + i;
        bool on = n % kSampleRate < kSampleRate / 8;
        float v = on ? 0.1f * static_cast<float>(std::sin(2 * kPi * 440 * n / kSampleRate)) : 0.f;
        for (int ch = 0; ch < f->ch_layout.nb_channels; ++ch)
            reinterpret_cast<float*>(f->data[ch])[i] = v;
    }
}

tl::expected<std::string, std::string> render_mp4(Size size, int seconds) {
    // The muxer's faststart pass logs at info level on every render; keep warnings and errors.
    if (av_log_get_level() > AV_LOG_WARNING) av_log_set_level(AV_LOG_WARNING);
    TempFile tmp;
    if (tmp.path.empty()) return Error("cannot create a temporary file");
    Output out;
    if (avformat_alloc_output_context2(&out.ctx, nullptr, "mp4", tmp.path.c_str()) < 0)
        return Error("no mp4 muxer in libavformat");
    auto video = open_video(out.ctx, size);
    if (!video) return Error(video.error());
    auto audio = open_audio(out.ctx);
    if (!audio) return Error(audio.error());
    if (int err = avio_open(&out.ctx->pb, tmp.path.c_str(), AVIO_FLAG_WRITE); err < 0)
        return Error("cannot write " + tmp.path + ": " + av::error_text(err));
    AVDictionary* opts = nullptr;
    av_dict_set(&opts, "movflags", "+faststart", 0);
    int err = avformat_write_header(out.ctx, &opts);
    av_dict_free(&opts);
    if (err < 0) return Error("mp4 header: " + av::error_text(err));

    auto vframe = av::make_frame(AV_PIX_FMT_YUV420P, size.width, size.height);
    av::FramePtr aframe(av_frame_alloc());
    av::PacketPtr pkt(av_packet_alloc());
    if (!vframe || !aframe || !pkt) return Error("out of memory");
    aframe->format = AV_SAMPLE_FMT_FLTP;
    aframe->sample_rate = kSampleRate;
    aframe->nb_samples = audio->codec->frame_size;
    av_channel_layout_copy(&aframe->ch_layout, &audio->codec->ch_layout);
    if (av_frame_get_buffer(aframe.get(), 0) < 0) return Error("out of memory");

    const int64_t frames = int64_t{seconds} * kFps, samples = int64_t{seconds} * kSampleRate;
    int64_t vi = 0, ai = 0;
    while (vi < frames || ai < samples) {
        // Feed whichever track is behind, so the muxer interleaves without buffering much.
        bool video_next = vi < frames && (ai >= samples || vi * kSampleRate <= ai * kFps);
        if (video_next) {
            if (av_frame_make_writable(vframe.get()) < 0) return Error("out of memory");
            draw_yuv420(vframe.get(), 0, 0, size.width, size.height,
                        static_cast<double>(vi) / kFps);
            vframe->pts = vi++;
            if (auto r = encode(out.ctx, *video, vframe.get(), pkt.get()); !r)
                return Error(r.error());
        } else {
            if (av_frame_make_writable(aframe.get()) < 0) return Error("out of memory");
            aframe->nb_samples =
                static_cast<int>(std::min<int64_t>(audio->codec->frame_size, samples - ai));
            fill_tone(aframe.get(), ai);
            aframe->pts = ai;
            ai += aframe->nb_samples;
            if (auto r = encode(out.ctx, *audio, aframe.get(), pkt.get()); !r)
                return Error(r.error());
        }
    }
    for (Track* t : {&*video, &*audio})
        if (auto r = encode(out.ctx, *t, nullptr, pkt.get()); !r) return Error(r.error());
    if (int werr = av_write_trailer(out.ctx); werr < 0)
        return Error("mp4 trailer: " + av::error_text(werr));
    avio_closep(&out.ctx->pb);

    std::ifstream in(tmp.path, std::ios::binary);
    std::ostringstream bytes;
    bytes << in.rdbuf();
    if (!in) return Error("cannot read back " + tmp.path);
    return bytes.str();
}

}  // namespace

tl::expected<Media, std::string> render_media(Size size, int seconds) {
    if (size.width <= 0 || size.height <= 0 || size.width % 2 || size.height % 2)
        return Error("cannot render " + to_string(size) + ": width and height must be even");
    if (seconds <= 0 || seconds > 600)
        return Error("cannot render " + std::to_string(seconds) + " s");
    auto mp4 = render_mp4(size, seconds);
    if (!mp4) return Error(mp4.error());
    auto thumb = render_thumbnail(size, seconds / 2.0);
    if (!thumb) return Error(thumb.error());
    auto sprite = render_spritesheet(size, seconds);
    if (!sprite) return Error(sprite.error());
    return Media{std::move(*mp4), std::move(thumb->bytes), std::move(thumb->content_type),
                 std::move(sprite->bytes)};
}

void wreck_media_data(std::string& mp4) {
    auto be = [&](size_t at, int n) {
        uint64_t v = 0;
        for (int i = 0; i < n; ++i)
            v = (v << 8) | static_cast<unsigned char>(mp4[at + i]);
        return v;
    };
    size_t begin = 0, end = mp4.size();
    for (size_t at = 0; at + 8 <= mp4.size();) {
        uint64_t size = be(at, 4);
        size_t header = 8;
        if (size == 1 && at + 16 <= mp4.size()) {
            size = be(at + 8, 8);
            header = 16;
        } else if (size == 0) {
            size = mp4.size() - at;
        }
        if (size < header || at + size > mp4.size()) break;
        if (mp4.compare(at + 4, 4, "mdat") == 0) {
            begin = at + header;
            end = at + size;
            break;
        }
        at += size;
    }
    size_t span = end - begin;
    for (int spot = 1; spot <= 4; ++spot) {
        size_t from = begin + span * spot / 5;
        for (size_t i = from; i < std::min(end, from + 64); ++i)
            mp4[i] = static_cast<char>(mp4[i] ^ 0x5A);
    }
}

}  // namespace vd::mock
