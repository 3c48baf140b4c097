#include "daemon/hook_runner.hpp"

#include <signal.h>

#include <memory>

namespace vd {

namespace {
constexpr uint64_t kLingerMs = 200;  // after exit, how long output still in the pipes is read
}

// One running hook: the process, its two output pipes and one timer (the time limit, then the
// linger after exit). Freed once every handle is closed.
struct HookRunner::Proc {
    HookRunner* owner = nullptr;
    uv_process_t process{};
    uv_pipe_t out{}, err{};
    uv_timer_t timer{};
    Done done;
    HookResult result;
    int open_handles = 0;
    int open_pipes = 0;
    bool exited = false;
    bool finished = false;
    bool process_init = false;  // uv_spawn was called: the handle needs closing, even on failure
    bool silent = false;        // shut down: no callback

    void keep(const char* data, size_t n) {
        size_t room = kMaxOutput - std::min(kMaxOutput, result.output.size());
        if (n > room) result.output_cut = true;
        result.output.append(data, std::min(n, room));
    }
    void close_all() {
        auto close = [this](uv_handle_t* h) {
            if (uv_is_closing(h)) return;
            uv_close(h, [](uv_handle_t* h) {
                auto* p = static_cast<Proc*>(h->data);
                if (--p->open_handles == 0) delete p;
            });
        };
        close(reinterpret_cast<uv_handle_t*>(&out));
        close(reinterpret_cast<uv_handle_t*>(&err));
        close(reinterpret_cast<uv_handle_t*>(&timer));
        if (process_init) close(reinterpret_cast<uv_handle_t*>(&process));
    }
    // Reported once: after exit, when the pipes are drained or the linger is over.
    void finish() {
        if (finished) return;
        finished = true;
        uv_timer_stop(&timer);
        owner->procs_.erase(this);
        Done cb = std::move(done);
        HookResult r = std::move(result);
        bool quiet = silent;
        close_all();
        if (!quiet && cb) cb(std::move(r));
    }
};

void HookRunner::run(const HookRun& spec, Done done) {
    auto* p = new Proc;
    p->owner = this;
    p->done = std::move(done);
    uv_pipe_init(loop_, &p->out, 0);
    uv_pipe_init(loop_, &p->err, 0);
    uv_timer_init(loop_, &p->timer);
    p->out.data = p->err.data = p->timer.data = p->process.data = p;
    p->open_handles = 3;
    procs_.insert(p);

    std::vector<char*> argv, env;
    for (const auto& a : spec.argv)
        argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    for (const auto& e : spec.env)
        env.push_back(const_cast<char*>(e.c_str()));
    env.push_back(nullptr);
    uv_stdio_container_t stdio[3];
    stdio[0].flags = UV_IGNORE;
    stdio[1].flags = static_cast<uv_stdio_flags>(UV_CREATE_PIPE | UV_WRITABLE_PIPE);
    stdio[1].data.stream = reinterpret_cast<uv_stream_t*>(&p->out);
    stdio[2].flags = static_cast<uv_stdio_flags>(UV_CREATE_PIPE | UV_WRITABLE_PIPE);
    stdio[2].data.stream = reinterpret_cast<uv_stream_t*>(&p->err);
    uv_process_options_t options{};
    options.file = argv[0];
    options.args = argv.data();
    options.env = env.data();
    options.stdio = stdio;
    options.stdio_count = 3;
    // Its own process group, so the time limit kills what it started too.
    options.flags = UV_PROCESS_DETACHED;
    options.exit_cb = [](uv_process_t* proc, int64_t status, int signal) {
        auto* p = static_cast<Proc*>(proc->data);
        p->exited = true;
        p->result.exit_status = status;
        p->result.term_signal = signal;
        if (p->open_pipes == 0) return p->finish();
        uv_timer_stop(&p->timer);
        uv_timer_start(
            &p->timer, [](uv_timer_t* t) { static_cast<Proc*>(t->data)->finish(); }, kLingerMs, 0);
    };
    int rc = UV_EINVAL;
    if (!spec.argv.empty() && !spec.argv[0].empty()) {
        rc = uv_spawn(loop_, &p->process, &options);
        p->process.data = p;
        p->process_init = true;
        ++p->open_handles;
    }
    if (rc != 0) {
        p->result.error = std::string("cannot start ") +
                          (spec.argv.empty() ? std::string("(no program)") : spec.argv[0]) + ": " +
                          uv_strerror(rc);
        // Reported from the loop, like every other outcome.
        uv_timer_start(
            &p->timer, [](uv_timer_t* t) { static_cast<Proc*>(t->data)->finish(); }, 0, 0);
        return;
    }
    p->result.started = true;
    auto on_alloc = [](uv_handle_t*, size_t, uv_buf_t* buf) {
        static thread_local char chunk[4096];
        *buf = uv_buf_init(chunk, sizeof chunk);
    };
    auto on_read = [](uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
        auto* p = static_cast<Proc*>(s->data);
        if (n > 0) return p->keep(buf->base, static_cast<size_t>(n));
        if (n == 0) return;
        uv_read_stop(s);
        if (--p->open_pipes == 0 && p->exited) p->finish();
    };
    for (uv_pipe_t* pipe : {&p->out, &p->err})
        if (uv_read_start(reinterpret_cast<uv_stream_t*>(pipe), on_alloc, on_read) == 0)
            ++p->open_pipes;
    uv_timer_start(
        &p->timer,
        [](uv_timer_t* t) {
            auto* p = static_cast<Proc*>(t->data);
            if (p->exited) return p->finish();
            p->result.timed_out = true;
            ::kill(-p->process.pid, SIGKILL);
        },
        static_cast<uint64_t>(std::max<int64_t>(1, spec.timeout.count())), 0);
}

void HookRunner::shutdown() {
    if (stopped_) return;
    stopped_ = true;
    for (Proc* p : std::set<Proc*>(procs_)) {
        p->silent = true;
        if (p->result.started && !p->exited) ::kill(-p->process.pid, SIGKILL);
        p->finish();
    }
}

}  // namespace vd
