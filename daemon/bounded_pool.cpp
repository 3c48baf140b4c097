#include "daemon/bounded_pool.hpp"

#include <algorithm>
#include <deque>

#include <spdlog/spdlog.h>

namespace vd {

struct BoundedPool::State {
    uv_loop_t* loop = nullptr;
    size_t max_parallel = 1;
    size_t running = 0;
    bool closed = false;
    struct Item {
        std::function<void()> work;
        std::function<void(int)> after;
    };
    std::deque<Item> queue;
};

namespace {

// One item on the threadpool; holds the pool's state so a pool destroyed meanwhile is safe.
struct Running {
    uv_work_t req{};
    std::function<void()> work;
    std::function<void(int)> after;
};

}  // namespace

BoundedPool::BoundedPool(uv_loop_t* loop, int max_parallel) : state_(std::make_shared<State>()) {
    state_->loop = loop;
    state_->max_parallel = static_cast<size_t>(std::max(1, max_parallel));
}

BoundedPool::~BoundedPool() {
    shutdown();
}

void BoundedPool::submit(std::function<void()> work, std::function<void(int)> after) {
    if (state_->closed) return;
    state_->queue.push_back({std::move(work), std::move(after)});
    start_queued(state_);
}

size_t BoundedPool::pending() const {
    return state_->queue.size() + state_->running;
}

size_t BoundedPool::running() const {
    return state_->running;
}

void BoundedPool::shutdown() {
    state_->closed = true;
    state_->queue.clear();
}

void BoundedPool::start_queued(const std::shared_ptr<State>& state) {
    while (!state->closed && state->running < state->max_parallel && !state->queue.empty()) {
        auto item = std::move(state->queue.front());
        state->queue.pop_front();
        ++state->running;
        auto* r = new Running{};
        r->work = std::move(item.work);
        r->after = [state, after = std::move(item.after)](int status) {
            --state->running;
            if (state->closed) return;
            after(status);
            start_queued(state);
        };
        r->req.data = r;
        int rc = uv_queue_work(
            state->loop, &r->req, [](uv_work_t* req) { static_cast<Running*>(req->data)->work(); },
            [](uv_work_t* req, int status) {
                std::unique_ptr<Running> done(static_cast<Running*>(req->data));
                try {
                    done->after(status);
                } catch (const std::exception& ex) {
                    spdlog::error("threadpool: completion threw: {}", ex.what());
                }
            });
        if (rc < 0) {
            std::unique_ptr<Running> failed(r);
            failed->after(rc);
        }
    }
}

}  // namespace vd
