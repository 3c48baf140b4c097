// `videodrop mock-server`: the mock in the foreground until SIGINT or SIGTERM.
#include <signal.h>

#include <cstdio>

#include "mock/mock.hpp"

namespace vd::mock {

int run_foreground(const Options& options) {
    // Block the signals before any thread starts, so that every thread inherits the mask and
    // sigwait() below is the only place they arrive.
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, &old);

    Server server(options);
    if (server.start() < 0) {
        std::fprintf(stderr, "mock: cannot listen on %s:%d%s%s\n", options.host.c_str(),
                     options.port, options.log_file.empty() ? "" : " or cannot append to ",
                     options.log_file.c_str());
        pthread_sigmask(SIG_SETMASK, &old, nullptr);
        return 1;
    }
    std::printf("mock: listening on %s\n", server.base_url().c_str());
    std::fflush(stdout);
    int sig = 0;
    sigwait(&set, &sig);
    std::fprintf(stderr, "mock: %s, stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    server.stop();
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    return 0;
}

}  // namespace vd::mock
