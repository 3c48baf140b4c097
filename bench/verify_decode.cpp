// What verification costs at each level (demux, decode) against what a careful user would run
// instead: `ffprobe` (a demux check) and `ffmpeg -v error -i F -f null -` (a full decode), on
// 720p and 1080p H.264+AAC files of 4, 12 and 20 s. CPU is summed over every thread (the decoder
// uses its own), wall is elapsed time; each figure is the median of RUNS runs.
// bench_verify_decode [RUNS]
#include <sys/resource.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "daemon/media_probe.hpp"

namespace {

struct Cost {
    double cpu_ms = 0, wall_ms = 0;
};

double cpu_ms(int who) {
    rusage ru{};
    getrusage(who, &ru);
    auto ms = [](timeval t) { return double(t.tv_sec) * 1e3 + double(t.tv_usec) / 1e3; };
    return ms(ru.ru_utime) + ms(ru.ru_stime);
}

Cost median(int runs, const std::function<void()>& body, int who = RUSAGE_SELF) {
    std::vector<double> cpu, wall;
    for (int i = 0; i < runs; ++i) {
        double c0 = cpu_ms(who);
        auto w0 = std::chrono::steady_clock::now();
        body();
        wall.push_back(
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - w0)
                .count());
        cpu.push_back(cpu_ms(who) - c0);
    }
    std::sort(cpu.begin(), cpu.end());
    std::sort(wall.begin(), wall.end());
    return {cpu[cpu.size() / 2], wall[wall.size() / 2]};
}

std::string make_file(int height, int seconds) {
    int width = height * 16 / 9;
    std::string path =
        "/tmp/videodrop-bench-" + std::to_string(height) + "p-" + std::to_string(seconds) + "s.mp4";
    if (std::filesystem::exists(path)) return path;
    std::string cmd =
        "ffmpeg -nostdin -hide_banner -loglevel error -y -f lavfi -i "
        "testsrc2=size=" +
        std::to_string(width) + "x" + std::to_string(height) +
        ":rate=30 -f lavfi -i sine=sample_rate=48000 -t " + std::to_string(seconds) +
        " -c:v libx264 -preset veryfast -pix_fmt yuv420p -c:a aac -ac 2 -movflags +faststart " +
        path;
    if (std::system(cmd.c_str()) != 0) return {};
    return path;
}

}  // namespace

int main(int argc, char** argv) {
    int runs = argc > 1 ? std::max(1, std::atoi(argv[1])) : 5;
    std::printf("| file | check | CPU ms | wall ms |\n|---|---|---|---|\n");
    for (int height : {720, 1080})
        for (int seconds : {4, 12, 20}) {
            std::string path = make_file(height, seconds);
            if (path.empty()) return 1;
            vd::MediaInfo info = vd::probe_mp4(path, true);
            if (info.decode_errors != 0 || info.decoded_frames < seconds * 30 - 1) {
                std::fprintf(stderr, "%s: decode check failed on a good file (%lld frames)\n",
                             path.c_str(), static_cast<long long>(info.decoded_frames));
                return 1;
            }
            Cost demux = median(runs, [&] { (void)vd::probe_mp4(path, false); });
            Cost decode = median(runs, [&] { (void)vd::probe_mp4(path, true); });
            std::string probe_cmd =
                "ffprobe -v error -show_format -show_streams " + path + " > /dev/null";
            Cost ffprobe = median(
                runs, [&] { (void)std::system(probe_cmd.c_str()); }, RUSAGE_CHILDREN);
            std::string cmd = "ffmpeg -nostdin -v error -i " + path + " -f null - ";
            Cost ffmpeg = median(
                runs, [&] { (void)std::system(cmd.c_str()); }, RUSAGE_CHILDREN);
            auto row = [&](const char* check, const Cost& c) {
                std::printf("| %dp %d s | %s | %.1f | %.1f |\n", height, seconds, check, c.cpu_ms,
                            c.wall_ms);
            };
            row("videodrop demux (`verify.level = \"demux\"`, with sha256)", demux);
            row("`ffprobe -show_format -show_streams`", ffprobe);
            row("videodrop decode (`verify.level = \"decode\"`, with sha256)", decode);
            row("`ffmpeg -v error -i F -f null -`", ffmpeg);
            std::printf(
                "| %dp %d s | ratios | demux/ffprobe %.2fx CPU | decode/ffmpeg %.2fx CPU |\n",
                height, seconds, demux.cpu_ms / ffprobe.cpu_ms, decode.cpu_ms / ffmpeg.cpu_ms);
        }
    return 0;
}
