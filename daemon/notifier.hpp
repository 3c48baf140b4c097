// Telling other programs that a job ended: the [hooks] argv (on_delivered, on_failed) run
// without a shell, and the webhook POSTed the sidecar or error JSON, signed when a secret is
// set. Each finished job's notice is written to the state folder first (daemon/notice.hpp), so a
// crash loses no notification: a hook runs at least once per outcome (exactly once unless the
// daemon dies while it runs), and a webhook is retried with backoff until it is taken or its
// attempts run out. A failing or hanging hook never touches the job or the daemon.
#pragma once

#include <uv.h>

#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "daemon/hook_runner.hpp"
#include "daemon/http_client.hpp"
#include "daemon/notice.hpp"

namespace vd {

struct NotifierSetup {
    HooksConfig hooks;
    std::string secret;  // the webhook's HMAC key; "" = unsigned. Never logged.
    std::string state_dir;
};

class Notifier {
  public:
    // `settled` is called after each hook or POST ends (a `once` run may end then).
    Notifier(uv_loop_t* loop, HttpClient& http, NotifierSetup setup, std::function<void()> settled);
    ~Notifier();
    Notifier(const Notifier&) = delete;
    Notifier& operator=(const Notifier&) = delete;

    // Notices on disk not known yet: left by earlier runs, or written by `videodrop cancel`
    // meanwhile; carried out now. Called at start and with each look for cancel requests.
    void scan();
    // A job that ended as `stem`. The notice is on disk when this returns; the caller removes
    // the job's claim only then. A job notified before (a restart) is not notified again.
    void notify(const Job& job, const Paths& paths, const std::string& stem);
    // New [hooks] (SIGHUP); notices waiting get the new ones.
    void reconfigure(NotifierSetup setup);
    // A hook waiting or running, or a webhook POST on the wire.
    bool busy() const;
    void shutdown();

  private:
    void pump();
    void run_hook(Notice& n);
    void post(Notice& n);
    void save(const Notice& n);
    void forget_if_done(const std::string& id);
    int64_t now_ms() const;

    uv_loop_t* loop_;
    HttpClient& http_;
    NotifierSetup setup_;
    std::function<void()> settled_;
    HookRunner runner_;
    uv_timer_t* timer_ = nullptr;  // the next webhook retry; heap: freed by its close callback
    std::map<std::string, Notice> notices_;
    std::vector<std::string> order_;  // ids, oldest first: hooks run in this order
    std::set<std::string> hooks_running_, posting_;
    std::set<std::string> reported_;  // unreadable notices already logged
    bool stopped_ = false;
};

// The argv with {name}, {sidecar}, {error} and {mp4} replaced from the notice.
std::vector<std::string> hook_argv(const std::vector<std::string>& argv, const Notice& n);
// The environment a hook gets: PATH, HOME, USER, LOGNAME, LANG, LC_*, TZ and TMPDIR of the
// daemon's (never the rest: keys live there), and VIDEODROP_NAME, _OUTCOME, _SIDECAR, _ERROR,
// _MP4.
std::vector<std::string> hook_env(const Notice& n);
// "sha256=" and the hex HMAC-SHA256 of `body` under `secret`.
std::string webhook_signature(const std::string& secret, const std::string& body);

}  // namespace vd
