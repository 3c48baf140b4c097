#include "daemon/media_join.hpp"

#include <algorithm>
#include <cstring>

extern "C" {
#include <libavutil/mathematics.h>
}

#include "daemon/av_util.hpp"
#include "daemon/image_fit.hpp"

namespace vd {

namespace {

tl::unexpected<std::string> fail(std::string what) {
    return tl::unexpected(std::move(what));
}

// An output file being written: closed and freed whatever happens.
struct Output {
    AVFormatContext* ctx = nullptr;
    ~Output() {
        if (!ctx) return;
        if (ctx->pb) avio_closep(&ctx->pb);
        avformat_free_context(ctx);
    }
};

std::string describe(const AVCodecParameters& p) {
    std::string text = avcodec_get_name(p.codec_id);
    if (p.codec_type == AVMEDIA_TYPE_VIDEO)
        text += " " + std::to_string(p.width) + "x" + std::to_string(p.height);
    else
        text += " " + std::to_string(p.sample_rate) + " Hz " +
                std::to_string(p.ch_layout.nb_channels) + " ch";
    return text;
}

bool same_stream(const AVCodecParameters& a, const AVCodecParameters& b) {
    return a.codec_id == b.codec_id && a.width == b.width && a.height == b.height &&
           a.format == b.format && a.sample_rate == b.sample_rate &&
           a.ch_layout.nb_channels == b.ch_layout.nb_channels &&
           a.extradata_size == b.extradata_size &&
           (a.extradata_size == 0 ||
            std::memcmp(a.extradata, b.extradata, static_cast<size_t>(a.extradata_size)) == 0);
}

struct ShotFile {
    FormatPtr in;
    int streams[2] = {-1, -1};  // the input's video and audio stream, per output stream
};

tl::expected<ShotFile, std::string> open_shot(const std::string& path, size_t k) {
    const std::string who = "shot " + std::to_string(k + 1);
    auto in = open_mp4_file(path);
    if (!in) return fail(who + ": " + in.error());
    if (int rc = avformat_find_stream_info(in->get(), nullptr); rc < 0)
        return fail(who + ": " + av_error_text(rc));
    ShotFile shot{std::move(*in), {-1, -1}};
    shot.streams[0] = av_find_best_stream(shot.in.get(), AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
    shot.streams[1] = av_find_best_stream(shot.in.get(), AVMEDIA_TYPE_AUDIO, -1, -1, nullptr, 0);
    if (shot.streams[0] < 0) return fail(who + " has no video stream");
    return shot;
}

}  // namespace

tl::expected<void, std::string> join_mp4(const std::vector<std::string>& paths,
                                         const std::string& dest) {
    if (paths.empty()) return fail("no shots to join");
    std::vector<ShotFile> shots;
    for (size_t k = 0; k < paths.size(); ++k) {
        auto shot = open_shot(paths[k], k);
        if (!shot) return fail(shot.error());
        shots.push_back(std::move(*shot));
    }
    // Every shot must carry the first one's streams exactly: a stream copy cannot convert.
    const ShotFile& first = shots[0];
    for (size_t k = 1; k < shots.size(); ++k)
        for (int s = 0; s < 2; ++s) {
            if ((first.streams[s] < 0) != (shots[k].streams[s] < 0))
                return fail("shot " + std::to_string(k + 1) + " has " +
                            (shots[k].streams[s] < 0 ? "no audio and shot 1 has"
                                                     : "audio and shot 1 has none") +
                            "; the shots cannot be joined without re-encoding");
            if (first.streams[s] < 0) continue;
            const AVCodecParameters& a = *first.in->streams[first.streams[s]]->codecpar;
            const AVCodecParameters& b = *shots[k].in->streams[shots[k].streams[s]]->codecpar;
            if (!same_stream(a, b))
                return fail("shot " + std::to_string(k + 1) + " is " + describe(b) +
                            " and shot 1 is " + describe(a) +
                            " (or their encoder settings differ); the shots cannot be joined "
                            "without re-encoding");
        }

    Output out;
    if (avformat_alloc_output_context2(&out.ctx, nullptr, "mp4", dest.c_str()) < 0 || !out.ctx)
        return fail("no mp4 muxer in libavformat");
    AVStream* streams[2] = {nullptr, nullptr};
    for (int s = 0; s < 2; ++s) {
        if (first.streams[s] < 0) continue;
        const AVStream* in = first.in->streams[first.streams[s]];
        streams[s] = avformat_new_stream(out.ctx, nullptr);
        if (!streams[s] || avcodec_parameters_copy(streams[s]->codecpar, in->codecpar) < 0)
            return fail("out of memory");
        streams[s]->codecpar->codec_tag = 0;
        streams[s]->time_base = in->time_base;
    }
    if (int rc = avio_open(&out.ctx->pb, dest.c_str(), AVIO_FLAG_WRITE); rc < 0)
        return fail("cannot write " + dest + ": " + av_error_text(rc));
    AVDictionary* opts = nullptr;
    av_dict_set(&opts, "movflags", "+faststart", 0);
    int rc = avformat_write_header(out.ctx, &opts);
    av_dict_free(&opts);
    if (rc < 0) return fail("mp4 header: " + av_error_text(rc));

    PacketPtr pkt(av_packet_alloc());
    if (!pkt) return fail("out of memory");
    int64_t offset = 0;                            // where this shot starts, in microseconds
    int64_t last_dts[2] = {INT64_MIN, INT64_MIN};  // per output stream, its time base
    for (size_t k = 0; k < shots.size(); ++k) {
        AVFormatContext* in = shots[k].in.get();
        // The shot's span in microseconds: it is placed to start where the one before ended.
        const int64_t start = in->start_time != AV_NOPTS_VALUE ? in->start_time : 0;
        int64_t end = INT64_MIN;
        while ((rc = av_read_frame(in, pkt.get())) >= 0) {
            int s = pkt->stream_index == shots[k].streams[0]   ? 0
                    : pkt->stream_index == shots[k].streams[1] ? 1
                                                               : -1;
            if (s < 0 || pkt->pts == AV_NOPTS_VALUE) {
                av_packet_unref(pkt.get());
                continue;
            }
            const AVRational from = in->streams[pkt->stream_index]->time_base;
            const AVRational to = streams[s]->time_base;
            end = std::max(end, av_rescale_q(pkt->pts + pkt->duration, from, AV_TIME_BASE_Q));
            const int64_t shift = av_rescale_q(offset - start, AV_TIME_BASE_Q, to);
            av_packet_rescale_ts(pkt.get(), from, to);
            pkt->pts += shift;
            if (pkt->dts != AV_NOPTS_VALUE) {
                pkt->dts += shift;
                // A shot's first packets may decode before its start (B-frames): never let the
                // decode order step back across a join.
                if (pkt->dts <= last_dts[s]) pkt->dts = last_dts[s] + 1;
                if (pkt->pts < pkt->dts) pkt->pts = pkt->dts;
                last_dts[s] = pkt->dts;
            }
            pkt->stream_index = streams[s]->index;
            pkt->pos = -1;
            if (rc = av_interleaved_write_frame(out.ctx, pkt.get()); rc < 0)
                return fail("writing shot " + std::to_string(k + 1) + ": " + av_error_text(rc));
        }
        if (rc != AVERROR_EOF)
            return fail("reading shot " + std::to_string(k + 1) + ": " + av_error_text(rc));
        if (end == INT64_MIN) return fail("shot " + std::to_string(k + 1) + " has no packets");
        offset += end - start;
    }
    if (rc = av_write_trailer(out.ctx); rc < 0) return fail("mp4 trailer: " + av_error_text(rc));
    if (rc = avio_closep(&out.ctx->pb); rc < 0)
        return fail("closing " + dest + ": " + av_error_text(rc));
    return {};
}

tl::expected<void, std::string> last_frame_png(const std::string& video, Size size,
                                               const std::string& dest_png) {
    auto in = open_mp4_file(video);
    if (!in) return fail(video + ": " + in.error());
    AVFormatContext* fmt = in->get();
    if (int rc = avformat_find_stream_info(fmt, nullptr); rc < 0)
        return fail(video + ": " + av_error_text(rc));
    const AVCodec* codec = nullptr;
    int index = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
    if (index < 0 || !codec) return fail(video + " has no video stream this build decodes");
    const AVStream* stream = fmt->streams[index];
    CodecPtr dec(avcodec_alloc_context3(codec));
    if (!dec || avcodec_parameters_to_context(dec.get(), stream->codecpar) < 0 ||
        avcodec_open2(dec.get(), codec, nullptr) < 0)
        return fail(video + ": cannot open its " + avcodec_get_name(codec->id) + " decoder");
    // Decoding starts at the key frame before the last second: the last frame is near the end.
    if (stream->duration > 0) {
        int64_t near_end =
            stream->duration - av_rescale_q(AV_TIME_BASE, AV_TIME_BASE_Q, stream->time_base);
        if (av_seek_frame(fmt, index, std::max<int64_t>(near_end, 0), AVSEEK_FLAG_BACKWARD) < 0)
            av_seek_frame(fmt, index, 0, AVSEEK_FLAG_BACKWARD);
    }
    PacketPtr pkt(av_packet_alloc());
    FramePtr frame(av_frame_alloc()), last(av_frame_alloc());
    if (!pkt || !frame || !last) return fail("out of memory");
    bool have = false;
    auto drain = [&] {
        while (avcodec_receive_frame(dec.get(), frame.get()) >= 0) {
            av_frame_unref(last.get());
            av_frame_move_ref(last.get(), frame.get());
            have = true;
        }
    };
    while (av_read_frame(fmt, pkt.get()) >= 0) {
        if (pkt->stream_index == index && avcodec_send_packet(dec.get(), pkt.get()) >= 0) drain();
        av_packet_unref(pkt.get());
    }
    avcodec_send_packet(dec.get(), nullptr);
    drain();
    if (!have) return fail(video + ": no frame could be decoded near its end");
    return fit_frame(*last, size, dest_png);
}

}  // namespace vd
