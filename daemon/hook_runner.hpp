// Running a hook's program: an argv without a shell, a given environment, a time limit, the
// output kept (bounded) for the log. Many may run at once; the caller bounds how many.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "pipeline/types.hpp"

namespace vd {

struct HookRun {
    std::vector<std::string> argv;  // argv[0] is looked up in PATH when it has no '/'
    std::vector<std::string> env;   // "NAME=value", the whole environment it gets
    Millis timeout{30000};
};

struct HookResult {
    bool started = false;  // false: it could not be started (`error` says why)
    std::string error;
    int64_t exit_status = -1;
    int term_signal = 0;
    bool timed_out = false;  // killed (with its process group) at the time limit
    std::string output;      // stdout and stderr as they came, at most kMaxOutput bytes
    bool output_cut = false;
    bool ok() const { return started && !timed_out && term_signal == 0 && exit_status == 0; }
};

class HookRunner {
  public:
    static constexpr size_t kMaxOutput = 8 * 1024;
    using Done = std::function<void(HookResult)>;

    explicit HookRunner(uv_loop_t* loop) : loop_(loop) {}
    ~HookRunner() { shutdown(); }
    HookRunner(const HookRunner&) = delete;
    HookRunner& operator=(const HookRunner&) = delete;

    // `done` is called later from the loop, never from inside run().
    void run(const HookRun& run, Done done);
    size_t running() const { return procs_.size(); }
    // Kills what runs (their callbacks are not called) and closes the handles; run the loop
    // until idle afterwards.
    void shutdown();

    struct Proc;  // hook_runner.cpp

  private:
    friend struct Proc;
    uv_loop_t* loop_;
    std::set<Proc*> procs_;
    bool stopped_ = false;
};

}  // namespace vd
