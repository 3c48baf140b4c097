// Work for libuv's threadpool, at most `max_parallel` items at once so that heavy work (decoding
// videos, fitting images) never takes every pool thread nor the memory of many at once; the rest
// wait in a queue. Loop thread only.
// After shutdown() (or destruction) queued items are dropped and no `after` runs again; running
// items still finish on the threadpool, so run the loop until idle before closing it.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>

#include <uv.h>

namespace vd {

class BoundedPool {
  public:
    BoundedPool(uv_loop_t* loop, int max_parallel);
    ~BoundedPool();
    BoundedPool(const BoundedPool&) = delete;
    BoundedPool& operator=(const BoundedPool&) = delete;

    // `work` runs on a pool thread, then `after` on the loop thread with uv's status (0, or
    // UV_ECANCELED). Both may share state through what they capture.
    void submit(std::function<void()> work, std::function<void(int status)> after);
    size_t pending() const;  // queued + running
    size_t running() const;
    void shutdown();

  private:
    struct State;
    static void start_queued(const std::shared_ptr<State>& state);
    std::shared_ptr<State> state_;
};

}  // namespace vd
