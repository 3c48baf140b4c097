// The executor: the engine's commands carried out, in order, through the shell's ports, and the
// answers fed back as events. The daemon (daemon.cpp) runs it on the real ports and adds what is
// not about jobs already known (the inbox, cancel requests, metrics, the wake-up timer); the
// deterministic simulation runs it on fakes and crashes it between any two effects.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "daemon/ports.hpp"
#include "pipeline/engine.hpp"

namespace vd {

struct Ports {
    ports::Clock& clock;
    ports::Http& http;
    ports::Media& media;
    ports::State& state;
    ports::Files& files;
};

class Executor {
  public:
    struct Hooks {
        std::function<void(const Job&)> finished;  // delivered, failed or cancelled (and moved)
        std::function<void()> settled;             // after each event's commands and tick
        // A job's outcome, published as `stem` (outbox/STEM.mp4 or failed/STEM.error.json),
        // told before its claim goes: after a crash in between it is told again.
        std::function<void(const Job&, const std::string& stem)> outcome;
        // When set, a tick is not run at once after each event but asked for here, and the
        // shell calls tick() once for all the events of one loop turn: a tick looks at every
        // job, so one per event would make a long queue cost its length squared.
        std::function<void()> tick_soon;
    };
    Executor(std::unique_ptr<Engine> engine, Ports ports, Hooks hooks);

    // Records read back at start: finished jobs need nothing more (a delivered one whose claim
    // was left has it removed); the others go to the engine, which resumes them.
    void restore(std::vector<Job> records, std::vector<LedgerEntry> ledger,
                 const nlohmann::json& limits);
    // After any event: carry out its commands, then (with `tick`) let the engine start what may
    // start now, then the settled hook.
    void after(const Commands& commands, bool tick = true);
    // The tick asked for through Hooks::tick_soon: start what may start now, then settled.
    void tick();
    // Stopping: no command is carried out and no answer handled any more.
    void stop() { stopped_ = true; }

    Engine& engine() { return *engine_; }
    const Engine& engine() const { return *engine_; }
    TimePoint now() const { return ports_.clock.now(); }
    int delivered() const { return delivered_; }
    int failed() const { return failed_; }

  private:
    void execute(const Commands& commands);
    void carry_out(const Persist& p);
    void carry_out(const RecordSpend& r);
    void carry_out(const SaveLimits& l);
    void carry_out(const Log& l);
    void carry_out(const SendHttp& s);
    void carry_out(const Download& d);
    void carry_out(const Probe& p);
    void carry_out(const Deliver& d);
    void carry_out(const Join& j);
    void carry_out(const ExtractFrame& f);
    void carry_out(const Fail& f);

    std::unique_ptr<Engine> engine_;
    Ports ports_;
    Hooks hooks_;
    bool stopped_ = false;
    int delivered_ = 0;
    int failed_ = 0;
};

}  // namespace vd
