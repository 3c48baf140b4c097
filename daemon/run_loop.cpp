// The process around a Daemon: its loop, signals, systemd notification and exit code.
#include <systemd/sd-daemon.h>

#include <spdlog/spdlog.h>

#include "daemon/daemon.hpp"

namespace vd {

namespace {

struct Process {
    Daemon* daemon = nullptr;
    std::string config_path;
    uv_signal_t term, intr, hup;
    uv_timer_t watchdog;
    bool watchdog_on = false;
    bool shut = false;
};

void close_handle(uv_handle_t* h) {
    if (!uv_is_closing(h)) uv_close(h, nullptr);
}

void shut(Process& p) {
    if (p.shut) return;  // the stop signal and the reaper may both get here
    p.shut = true;
    uv_signal_stop(&p.term);
    uv_signal_stop(&p.intr);
    uv_signal_stop(&p.hup);
    close_handle(reinterpret_cast<uv_handle_t*>(&p.term));
    close_handle(reinterpret_cast<uv_handle_t*>(&p.intr));
    close_handle(reinterpret_cast<uv_handle_t*>(&p.hup));
    if (p.watchdog_on) close_handle(reinterpret_cast<uv_handle_t*>(&p.watchdog));
}

void on_stop_signal(uv_signal_t* s, int signum) {
    auto* p = static_cast<Process*>(s->data);
    spdlog::info("signal {}: stopping (jobs resume at the next start)", signum);
    sd_notify(0, "STOPPING=1");
    p->daemon->stop();
    shut(*p);
}

void on_hup(uv_signal_t* s, int) {
    auto* p = static_cast<Process*>(s->data);
    auto cfg = load_config(p->config_path);
    if (!cfg) {
        spdlog::error("reload: {} (keeping the running configuration)", cfg.error());
        return;
    }
    auto keys = load_all_keys(*cfg);
    if (!keys) {
        spdlog::error("reload: {} (keeping the running configuration)", keys.error());
        return;
    }
    if (auto r = p->daemon->reload(std::move(*cfg), std::move(*keys)); !r)
        spdlog::error("reload: {} (keeping the running configuration)", r.error());
}

void on_watchdog(uv_timer_t* t) {
    auto* p = static_cast<Process*>(t->data);
    if (p->daemon->stopped()) {
        uv_timer_stop(t);
        shut(*p);
        return;
    }
    sd_notify(0, "WATCHDOG=1");
}

}  // namespace

int run_daemon(DaemonSetup setup, RunSummary* summary) {
    uv_loop_t loop;
    uv_loop_init(&loop);
    RunMode mode = setup.mode;
    Process p;
    p.config_path = setup.config.source;
    int rc = 0;
    {
        Daemon daemon(&loop, std::move(setup));
        p.daemon = &daemon;
        for (auto* s : {&p.term, &p.intr, &p.hup}) {
            uv_signal_init(&loop, s);
            s->data = &p;
        }
        uv_signal_start(&p.term, on_stop_signal, SIGTERM);
        uv_signal_start(&p.intr, on_stop_signal, SIGINT);
        uv_signal_start(&p.hup, on_hup, SIGHUP);
        uint64_t usec = 0;
        if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
            uv_timer_init(&loop, &p.watchdog);
            p.watchdog.data = &p;
            uv_timer_start(&p.watchdog, on_watchdog, usec / 2000, usec / 2000);
            p.watchdog_on = true;
        }
        if (auto started = daemon.start(); !started) {
            spdlog::error("{}", started.error());
            daemon.stop();
            rc = 1;
        } else {
            sd_notify(0, "READY=1\nSTATUS=watching the inbox");
        }
        // A `once` run stops the daemon by itself; the signal handles must then close too.
        uv_prepare_t reaper;
        uv_prepare_init(&loop, &reaper);
        reaper.data = &p;
        uv_prepare_start(&reaper, [](uv_prepare_t* h) {
            auto* proc = static_cast<Process*>(h->data);
            if (!proc->daemon->stopped()) return;
            shut(*proc);
            uv_prepare_stop(h);
            uv_close(reinterpret_cast<uv_handle_t*>(h), nullptr);
        });
        uv_run(&loop, UV_RUN_DEFAULT);
        RunSummary s = daemon.summary();
        if (summary) *summary = s;
        if (rc == 0 && mode != RunMode::forever) {
            if (s.paused > 0)
                rc = 1;  // credentials rejected: nothing more can happen
            else if (s.failed > 0)
                rc = 3;
            else if (s.budget_held > 0)
                rc = 4;  // everything else done; these wait for the budget (still queued)
        }
    }
    uv_run(&loop, UV_RUN_DEFAULT);  // close callbacks of what the daemon's destructor closed
    if (uv_loop_close(&loop) != 0) spdlog::debug("loop closed with handles left");
    return rc;
}

}  // namespace vd
