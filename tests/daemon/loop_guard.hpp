// A libuv loop for one test. Tests end with REQUIRE(loop.close() == 0): a handle left open
// (a leak in the code under test) makes uv_loop_close fail with UV_EBUSY instead of hanging.
#pragma once

#include <chrono>
#include <functional>

#include <uv.h>

namespace vd::test {

class LoopGuard {
  public:
    LoopGuard() { uv_loop_init(&loop_); }
    ~LoopGuard() {
        if (closed_) return;
        // The test failed before close(): close what is left so the next test starts clean.
        uv_walk(
            &loop_,
            [](uv_handle_t* h, void*) {
                if (!uv_is_closing(h)) uv_close(h, nullptr);
            },
            nullptr);
        uv_run(&loop_, UV_RUN_DEFAULT);
        uv_loop_close(&loop_);
    }
    LoopGuard(const LoopGuard&) = delete;
    LoopGuard& operator=(const LoopGuard&) = delete;

    uv_loop_t* get() { return &loop_; }
    operator uv_loop_t*() { return &loop_; }

    // Runs the loop until `done()` holds or `timeout` passes; returns done().
    bool run_until(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
        auto deadline = std::chrono::steady_clock::now() + timeout;
        // A ticking timer bounds each blocking iteration so the deadline is noticed.
        auto* tick = new uv_timer_t;
        uv_timer_init(&loop_, tick);
        uv_timer_start(
            tick, [](uv_timer_t*) {}, 5, 5);
        while (!done() && std::chrono::steady_clock::now() < deadline)
            uv_run(&loop_, UV_RUN_ONCE);
        uv_close(reinterpret_cast<uv_handle_t*>(tick),
                 [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
        uv_run(&loop_, UV_RUN_NOWAIT);  // runs the close callback
        return done();
    }

    // Runs the loop for a while, whatever happens.
    void run_for(std::chrono::milliseconds duration) {
        run_until([] { return false; }, duration);
    }

    // Lets pending close callbacks run (bounded: an active handle must not hang the test),
    // then closes the loop. 0 when nothing leaked.
    int close() {
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
        while (uv_loop_alive(&loop_) && std::chrono::steady_clock::now() < deadline)
            uv_run(&loop_, UV_RUN_NOWAIT);
        int rc = uv_loop_close(&loop_);
        closed_ = rc == 0;
        return rc;
    }

  private:
    uv_loop_t loop_;
    bool closed_ = false;
};

}  // namespace vd::test
