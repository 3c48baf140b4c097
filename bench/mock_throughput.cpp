// How fast the mock is: MP4 render time per size and duration, and GET /v1/videos/{id} requests
// per second from K keep-alive clients. Usage: bench_mock_throughput [CLIENTS] [SECONDS] [DIR]
// (DIR: also write the rendered MP4s there, e.g. for ffprobe).
#include <time.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "mock/http_lib.hpp"
#include "mock/media.hpp"
#include "mock/mock.hpp"

using namespace vd;
using Clock = std::chrono::steady_clock;

namespace {

double since_ms(Clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// CPU time of this thread: renders run on the calling thread, and on a busy machine wall time
// says more about the neighbours than about the render.
double thread_cpu_ms() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

void bench_renders(const char* dir) {
    struct Clip {
        Size size;
        int seconds;
    };
    for (auto [size, seconds] :
         {Clip{{1280, 720}, 4}, Clip{{1280, 720}, 8}, Clip{{1280, 720}, 12}, Clip{{720, 1280}, 4},
          Clip{{1792, 1024}, 12}, Clip{{160, 90}, 2}}) {
        auto t0 = Clock::now();
        double c0 = thread_cpu_ms();
        auto media = mock::render_media(size, seconds);
        double ms = since_ms(t0), cpu = thread_cpu_ms() - c0;
        c0 = thread_cpu_ms();
        auto thumb = mock::render_still("libwebp", size, 0);
        double thumb_cpu = thread_cpu_ms() - c0;
        if (!media) {
            std::printf("render %s %ds: failed: %s\n", to_string(size).c_str(), seconds,
                        media.error().c_str());
            continue;
        }
        std::printf(
            "render %s %2ds: %7.1f ms wall, %7.1f ms cpu (of which thumbnail %5.1f)  "
            "mp4 %zu bytes, thumbnail %zu, spritesheet %zu\n",
            to_string(size).c_str(), seconds, ms, cpu, thumb ? thumb_cpu : 0.0, media->mp4.size(),
            media->thumbnail.size(), media->spritesheet.size());
        if (dir) {
            std::string path = std::string(dir) + "/mock_" + to_string(size) + "_" +
                               std::to_string(seconds) + "s.mp4";
            std::ofstream(path, std::ios::binary) << media->mp4;
        }
    }
}

void bench_polls(int clients, double seconds) {
    mock::Options o;
    o.keys = {"sk-bench"};
    o.queue_time = Millis{0};
    o.gen_time = Millis{0};
    o.threads = clients + 4;
    mock::Server server(o);
    if (server.start() < 0) {
        std::printf("cannot start the mock\n");
        std::exit(1);
    }
    httplib::Client setup("127.0.0.1", server.port());
    setup.set_bearer_token_auth("sk-bench");
    auto created = setup.Post("/v1/videos", R"({"prompt":"bench"})", "application/json");
    if (!created || created->status != 200) {
        std::printf("create failed\n");
        std::exit(1);
    }
    std::string path =
        "/v1/videos/" + nlohmann::json::parse(created->body)["id"].get<std::string>();

    std::atomic<bool> stop{false};
    std::atomic<long> ok{0}, failed{0};
    constexpr long kMaxPerClient = 2'000'000;  // bounded even if the clock misbehaves
    std::vector<std::thread> threads;
    auto t0 = Clock::now();
    for (int i = 0; i < clients; ++i)
        threads.emplace_back([&] {
            httplib::Client c("127.0.0.1", server.port());
            c.set_bearer_token_auth("sk-bench");
            c.set_keep_alive(true);
            for (long n = 0; n < kMaxPerClient && !stop; ++n) {
                auto r = c.Get(path);
                (r && r->status == 200 ? ok : failed)++;
            }
        });
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    stop = true;
    for (auto& t : threads)
        t.join();
    double s = since_ms(t0) / 1000;
    std::printf(
        "GET /v1/videos/{id}: %d keep-alive clients, %ld requests in %.2f s: %.0f req/s "
        "(%ld failed)\n",
        clients, ok.load(), s, ok / s, failed.load());
    server.stop();
}

}  // namespace

int main(int argc, char** argv) {
    int clients = argc > 1 ? std::atoi(argv[1]) : 4;
    double seconds = argc > 2 ? std::atof(argv[2]) : 3;
    const char* dir = argc > 3 ? argv[3] : nullptr;
    bench_renders(dir);
    bench_polls(clients, seconds);
    return 0;
}
