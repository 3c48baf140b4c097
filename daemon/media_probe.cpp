#include "daemon/media_probe.hpp"

#include <algorithm>
#include <filesystem>
#include <mutex>
#include <system_error>
#include <utility>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avutil.h>
#include <libavutil/dict.h>
#include <libavutil/error.h>
}

#include "daemon/av_util.hpp"
#include "daemon/media_decode.hpp"
#include "daemon/sha256.hpp"

namespace vd {
namespace {

// FFmpeg logs to stderr by default; a bad download is reported through MediaInfo instead.
// The level is process-wide, hence once.
void quiet_ffmpeg() {
    static std::once_flag once;
    std::call_once(once, [] { av_log_set_level(AV_LOG_QUIET); });
}

double seconds(int64_t ts, AVRational time_base) {
    return static_cast<double>(ts) * av_q2d(time_base);
}

double frame_rate(const AVStream* st) {
    for (AVRational r : {st->avg_frame_rate, st->r_frame_rate})
        if (r.num > 0 && r.den > 0) return av_q2d(r);
    return 0;
}

// Stream headers only: find_stream_info would decode frames and cost ~18 ms.
void read_headers(const AVFormatContext* ctx, int video, int audio, MediaInfo& info) {
    if (ctx->duration != AV_NOPTS_VALUE && ctx->duration > 0) {
        info.duration = static_cast<double>(ctx->duration) / AV_TIME_BASE;
    } else {
        // A fragmented MP4 (empty moov) has no total; the demuxer sums the fragments it finds,
        // so a cut-short file reads as a short one.
        for (unsigned i = 0; i < ctx->nb_streams; ++i) {
            const AVStream* st = ctx->streams[i];
            if (st->duration != AV_NOPTS_VALUE && st->duration > 0)
                info.duration = std::max(info.duration, seconds(st->duration, st->time_base));
        }
    }
    if (video >= 0) {
        const AVStream* st = ctx->streams[video];
        info.has_video = true;
        info.video_codec = avcodec_get_name(st->codecpar->codec_id);
        info.width = st->codecpar->width;
        info.height = st->codecpar->height;
        info.fps = frame_rate(st);
        info.frames = std::max<int64_t>(st->nb_frames, 0);
    }
    if (audio >= 0) {
        const AVCodecParameters* par = ctx->streams[audio]->codecpar;
        info.has_audio = true;
        info.audio_codec = avcodec_get_name(par->codec_id);
        info.sample_rate = par->sample_rate;
        info.channels = par->ch_layout.nb_channels;
    }
}

// Reads every packet without decoding: a truncated file runs out of packets or of time.
void demux_pass(AVFormatContext* ctx, int video, MediaInfo& info) {
    PacketPtr pkt(av_packet_alloc());
    if (!pkt) {
        info.demux_error = true;
        info.demux_message = "out of memory";
        return;
    }
    for (;;) {
        int rc = av_read_frame(ctx, pkt.get());
        if (rc == AVERROR_EOF) break;
        if (rc < 0) {
            info.demux_error = true;
            info.demux_message = av_error_text(rc);
            break;
        }
        if (pkt->stream_index == video) {
            ++info.video_packets;
            int64_t start = pkt->pts != AV_NOPTS_VALUE ? pkt->pts : pkt->dts;
            if (start != AV_NOPTS_VALUE) {
                // Max, not last: with B-frames, decode order is not display order.
                AVRational tb = ctx->streams[video]->time_base;
                info.last_video_pts =
                    std::max(info.last_video_pts, seconds(start + pkt->duration, tb));
            }
        }
        av_packet_unref(pkt.get());
    }
}

}  // namespace

MediaInfo probe_mp4(const std::string& path, bool decode) {
    quiet_ffmpeg();
    MediaInfo info;
    std::error_code ec;
    auto bytes = std::filesystem::file_size(path, ec);
    if (ec) {
        info.open_error = path + ": " + ec.message();
        return info;
    }
    info.bytes = static_cast<int64_t>(bytes);

    auto ctx = open_mp4_file(path);
    if (ctx) {
        info.opened = true;
        info.container = "mp4";
        AVFormatContext* fmt = ctx->get();
        int video = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
        int audio = av_find_best_stream(fmt, AVMEDIA_TYPE_AUDIO, -1, video, nullptr, 0);
        read_headers(fmt, video, audio, info);
        demux_pass(fmt, video, info);
        if (decode && !info.demux_error) decode_pass(path, info);
    } else {
        info.open_error = ctx.error();
    }
    // Hashed even when the file is bad: the error file then says which bytes were rejected.
    if (auto hex = sha256_file(path)) info.sha256 = *hex;
    return info;
}

namespace {

struct ProbeWork {
    uv_work_t req{};
    std::string path;
    bool decode = false;
    MediaInfo info;
    std::function<void(MediaInfo)> done;
};

}  // namespace

void probe_async(uv_loop_t* loop, std::string path, bool decode,
                 std::function<void(MediaInfo)> done) {
    auto* work = new ProbeWork{};
    work->path = std::move(path);
    work->decode = decode;
    work->done = std::move(done);
    work->req.data = work;
    int rc = uv_queue_work(
        loop, &work->req,
        [](uv_work_t* req) {
            auto* w = static_cast<ProbeWork*>(req->data);
            w->info = probe_mp4(w->path, w->decode);
        },
        [](uv_work_t* req, int status) {
            std::unique_ptr<ProbeWork> w(static_cast<ProbeWork*>(req->data));
            if (status < 0)
                w->info.open_error = "probe not run: " + std::string(uv_strerror(status));
            w->done(std::move(w->info));
        });
    if (rc < 0) {
        std::unique_ptr<ProbeWork> w(work);
        w->info.open_error = "probe not run: " + std::string(uv_strerror(rc));
        w->done(std::move(w->info));
    }
}

MediaProber::MediaProber(uv_loop_t* loop, int max_parallel) : pool_(loop, max_parallel) {}

void MediaProber::probe(std::string path, bool decode, std::function<void(MediaInfo)> done) {
    auto info = std::make_shared<MediaInfo>();
    pool_.submit([info, path = std::move(path), decode] { *info = probe_mp4(path, decode); },
                 [info, done = std::move(done)](int status) {
                     if (status < 0)
                         info->open_error = "probe not run: " + std::string(uv_strerror(status));
                     done(std::move(*info));
                 });
}

void MediaProber::run(std::function<std::string()> work, std::function<void(std::string)> done) {
    auto error = std::make_shared<std::string>();
    pool_.submit([error, work = std::move(work)] { *error = work(); },
                 [error, done = std::move(done)](int status) {
                     if (status < 0) *error = "not run: " + std::string(uv_strerror(status));
                     done(std::move(*error));
                 });
}

size_t MediaProber::pending() const {
    return pool_.pending();
}

size_t MediaProber::running() const {
    return pool_.running();
}

void MediaProber::shutdown() {
    pool_.shutdown();
}

}  // namespace vd
