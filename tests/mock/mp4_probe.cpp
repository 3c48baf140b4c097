#include "tests/mock/mp4_probe.hpp"

#include <cstring>

extern "C" {
#include <libavformat/avformat.h>
#include <libavutil/mem.h>
}

namespace vd::mock::test {
namespace {

struct Reader {
    const std::string* data;
    int64_t pos = 0;
};

int read_packet(void* opaque, uint8_t* buf, int size) {
    auto* r = static_cast<Reader*>(opaque);
    int64_t left = static_cast<int64_t>(r->data->size()) - r->pos;
    if (left <= 0) return AVERROR_EOF;
    int n = static_cast<int>(std::min<int64_t>(size, left));
    std::memcpy(buf, r->data->data() + r->pos, static_cast<size_t>(n));
    r->pos += n;
    return n;
}

int64_t seek(void* opaque, int64_t offset, int whence) {
    auto* r = static_cast<Reader*>(opaque);
    auto size = static_cast<int64_t>(r->data->size());
    if (whence & AVSEEK_SIZE) return size;
    switch (whence & ~AVSEEK_FORCE) {
        case SEEK_SET:
            r->pos = offset;
            break;
        case SEEK_CUR:
            r->pos += offset;
            break;
        case SEEK_END:
            r->pos = size + offset;
            break;
        default:
            return -1;
    }
    return r->pos;
}

}  // namespace

Mp4Info probe_mp4(const std::string& bytes) {
    Mp4Info info;
    Reader reader{&bytes};
    auto* buffer = static_cast<unsigned char*>(av_malloc(4096));
    AVIOContext* io = avio_alloc_context(buffer, 4096, 0, &reader, read_packet, nullptr, seek);
    AVFormatContext* fmt = avformat_alloc_context();
    fmt->pb = io;
    if (avformat_open_input(&fmt, nullptr, av_find_input_format("mp4"), nullptr) == 0) {
        info.opened = true;
        info.duration = fmt->duration > 0 ? static_cast<double>(fmt->duration) / AV_TIME_BASE : 0;
        int video = -1;
        for (unsigned i = 0; i < fmt->nb_streams; ++i) {
            const AVCodecParameters* par = fmt->streams[i]->codecpar;
            if (par->codec_type == AVMEDIA_TYPE_VIDEO && video < 0) {
                video = static_cast<int>(i);
                info.video_codec = avcodec_get_name(par->codec_id);
                info.width = par->width;
                info.height = par->height;
            } else if (par->codec_type == AVMEDIA_TYPE_AUDIO) {
                info.audio_codec = avcodec_get_name(par->codec_id);
            }
        }
        AVPacket* pkt = av_packet_alloc();
        while (av_read_frame(fmt, pkt) == 0) {
            if (pkt->stream_index == video) ++info.video_packets;
            av_packet_unref(pkt);
        }
        av_packet_free(&pkt);
        avformat_close_input(&fmt);
    } else {
        avformat_free_context(fmt);
    }
    av_freep(&io->buffer);
    avio_context_free(&io);
    return info;
}

}  // namespace vd::mock::test
