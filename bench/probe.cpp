// Times the steps of probe_mp4 on one file: bench_probe [FILE.mp4] [RUNS].
// Without a file it makes an 8 s 1280x720 30 fps H.264+AAC one with the ffmpeg CLI.
// Figures are CPU time of this thread, so other processes on a busy machine don't inflate them.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

extern "C" {
#include <libavformat/avformat.h>
}

#include "daemon/media_probe.hpp"
#include "daemon/sha256.hpp"

namespace {

double cpu_ms() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

double median_ms(int runs, const std::function<void()>& body) {
    std::vector<double> ms;
    for (int i = 0; i < runs; ++i) {
        double start = cpu_ms();
        body();
        ms.push_back(cpu_ms() - start);
    }
    std::sort(ms.begin(), ms.end());
    return ms[ms.size() / 2];
}

// The same calls as probe_mp4, one step at a time.
AVFormatContext* open_mp4(const std::string& path) {
    AVDictionary* opts = nullptr;
    av_dict_set(&opts, "protocol_whitelist", "file", 0);
    AVFormatContext* ctx = nullptr;
    avformat_open_input(&ctx, ("file:" + path).c_str(), av_find_input_format("mp4"), &opts);
    av_dict_free(&opts);
    return ctx;
}

}  // namespace

int main(int argc, char** argv) {
    std::string path = argc > 1 ? argv[1] : "/tmp/videodrop-bench-probe.mp4";
    int runs = argc > 2 ? std::max(1, std::atoi(argv[2])) : 100;
    if (argc < 2 && !std::filesystem::exists(path)) {
        std::string cmd =
            "ffmpeg -nostdin -hide_banner -loglevel error -y -f lavfi -i "
            "testsrc2=size=1280x720:rate=30 -f lavfi -i sine=sample_rate=48000 -t 8 -c:v libx264 "
            "-preset veryfast -pix_fmt yuv420p -c:a aac -ac 2 -movflags +faststart " +
            path;
        if (std::system(cmd.c_str()) != 0) return 1;
    }
    vd::MediaInfo info;
    double first = median_ms(1, [&] { info = vd::probe_mp4(path); });  // also silences the log
    if (!info.opened) {
        std::fprintf(stderr, "%s: %s\n", path.c_str(), info.open_error.c_str());
        return 1;
    }

    double open = median_ms(runs, [&] {
        AVFormatContext* ctx = open_mp4(path);
        avformat_close_input(&ctx);
    });
    double open_headers = median_ms(runs, [&] {
        AVFormatContext* ctx = open_mp4(path);
        av_find_best_stream(ctx, AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
        av_find_best_stream(ctx, AVMEDIA_TYPE_AUDIO, -1, -1, nullptr, 0);
        avformat_close_input(&ctx);
    });
    double open_demux = median_ms(runs, [&] {
        AVFormatContext* ctx = open_mp4(path);
        AVPacket* pkt = av_packet_alloc();
        while (av_read_frame(ctx, pkt) >= 0)
            av_packet_unref(pkt);
        av_packet_free(&pkt);
        avformat_close_input(&ctx);
    });
    double sha = median_ms(runs, [&] { (void)vd::sha256_file(path); });
    double total = median_ms(runs, [&] { info = vd::probe_mp4(path); });

    std::printf("%s: %lld bytes, %dx%d %s %.2f fps, %lld/%lld packets, %.3f s, last pts %.3f s\n",
                path.c_str(), static_cast<long long>(info.bytes), info.width, info.height,
                info.video_codec.c_str(), info.fps, static_cast<long long>(info.video_packets),
                static_cast<long long>(info.frames), info.duration, info.last_video_pts);
    std::printf("CPU ms, first probe_mp4 in the process: %.2f\n", first);
    std::printf(
        "CPU ms, median of %d: open %.2f | codecpar %.2f | demux pass %.2f | sha256 %.2f"
        " | probe_mp4 total %.2f\n",
        runs, open, open_headers - open, open_demux - open, sha, total);
    return 0;
}
