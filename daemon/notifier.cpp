#include "daemon/notifier.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <sstream>

#include <spdlog/spdlog.h>

#include "daemon/fsutil.hpp"

extern char** environ;

namespace vd {

namespace {

constexpr size_t kMaxBody = 1024 * 1024;
constexpr int64_t kFirstRetryMs = 2000;
constexpr int64_t kMaxRetryMs = 10 * 60 * 1000;
constexpr Millis kPostTimeout{30000};

bool retryable(const HttpResult& r) {
    if (r.transport != TransportError::none) return true;
    return r.status == 408 || r.status == 429 || r.status >= 500 || r.status <= 0;
}

std::string what_happened(const HttpResult& r) {
    if (r.transport != TransportError::none) return "no answer (" + r.transport_message + ")";
    return "HTTP " + std::to_string(r.status);
}

void log_output(const std::string& who, const HookResult& r, spdlog::level::level_enum level) {
    std::istringstream lines(r.output);
    for (std::string line; std::getline(lines, line);)
        if (!line.empty()) spdlog::log(level, "{}: {}", who, line);
    if (r.output_cut)
        spdlog::log(level, "{}: (output cut at {} bytes)", who, HookRunner::kMaxOutput);
}

}  // namespace

std::vector<std::string> hook_argv(const std::vector<std::string>& argv, const Notice& n) {
    std::vector<std::string> out;
    for (std::string arg : argv) {
        for (auto [key, value] : {std::pair<const char*, const std::string*>{"{name}", &n.name},
                                  {"{sidecar}", &n.sidecar},
                                  {"{error}", &n.error},
                                  {"{mp4}", &n.mp4}}) {
            const size_t len = std::strlen(key);
            for (auto at = arg.find(key); at != std::string::npos;
                 at = arg.find(key, at + value->size()))
                arg.replace(at, len, *value);
        }
        out.push_back(std::move(arg));
    }
    return out;
}

std::vector<std::string> hook_env(const Notice& n) {
    std::vector<std::string> env;
    bool has_path = false;
    for (char** e = environ; e && *e; ++e) {
        std::string_view var(*e);
        std::string_view name = var.substr(0, var.find('='));
        bool keep = name == "PATH" || name == "HOME" || name == "USER" || name == "LOGNAME" ||
                    name == "LANG" || name == "TZ" || name == "TMPDIR" ||
                    name.substr(0, 3) == "LC_";
        if (!keep) continue;
        has_path |= name == "PATH";
        env.emplace_back(var);
    }
    if (!has_path) env.emplace_back("PATH=/usr/local/bin:/usr/bin:/bin");
    env.push_back("VIDEODROP_NAME=" + n.name);
    env.push_back("VIDEODROP_OUTCOME=" + n.outcome);
    env.push_back("VIDEODROP_SIDECAR=" + n.sidecar);
    env.push_back("VIDEODROP_ERROR=" + n.error);
    env.push_back("VIDEODROP_MP4=" + n.mp4);
    return env;
}

std::string webhook_signature(const std::string& secret, const std::string& body) {
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
         reinterpret_cast<const unsigned char*>(body.data()), body.size(), mac, &len);
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out = "sha256=";
    for (unsigned int i = 0; i < len; ++i) {
        out += kHex[mac[i] >> 4];
        out += kHex[mac[i] & 0xF];
    }
    return out;
}

Notifier::Notifier(uv_loop_t* loop, HttpClient& http, NotifierSetup setup,
                   std::function<void()> settled)
    : loop_(loop),
      http_(http),
      setup_(std::move(setup)),
      settled_(std::move(settled)),
      runner_(loop) {
    timer_ = new uv_timer_t;
    uv_timer_init(loop_, timer_);
    timer_->data = this;
}

Notifier::~Notifier() {
    shutdown();
}

int64_t Notifier::now_ms() const {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

void Notifier::save(const Notice& n) {
    if (auto r = save_notice(setup_.state_dir, n, false); !r)
        spdlog::error("hooks: cannot record the notice of {}: {}", n.name, r.error());
}

void Notifier::scan() {
    if (stopped_) return;
    std::vector<std::string> problems;
    size_t found = 0;
    for (auto& n : load_notices(setup_.state_dir, problems)) {
        if (notices_.count(n.id)) continue;
        order_.push_back(n.id);
        notices_[n.id] = std::move(n);
        ++found;
    }
    // Reported once: an unreadable notice stays where it is for a person to look at.
    for (const auto& p : problems)
        if (reported_.insert(p).second) spdlog::error("hooks: {}", p);
    if (found > 0) spdlog::info("hooks: {} notification(s) found waiting, carried out now", found);
    if (found > 0) pump();
}

void Notifier::notify(const Job& job, const Paths& paths, const std::string& stem) {
    if (stopped_ || !setup_.hooks.any()) return;
    Notice n = notice_of(job, paths, stem);
    auto fresh = save_notice(setup_.state_dir, n, true);
    if (!fresh) {
        spdlog::error("hooks: cannot record the notice of {}: {}; its hooks run now anyway",
                      job.spec.name, fresh.error());
    } else if (!*fresh) {
        return;  // notified before a restart; the notice on disk is carried out
    }
    order_.push_back(n.id);
    notices_[n.id] = std::move(n);
    pump();
}

void Notifier::reconfigure(NotifierSetup setup) {
    setup_ = std::move(setup);
    pump();
}

bool Notifier::busy() const {
    if (!posting_.empty()) return true;
    for (const auto& [id, n] : notices_)
        if (!n.hook_done) return true;
    return false;
}

void Notifier::pump() {
    if (stopped_) return;
    const HooksConfig& h = setup_.hooks;
    const int64_t now = now_ms();
    int64_t next = 0;
    for (const auto& id : std::vector<std::string>(order_)) {
        auto it = notices_.find(id);
        if (it == notices_.end()) continue;
        Notice& n = it->second;
        const auto& argv = n.outcome == "delivered" ? h.on_delivered : h.on_failed;
        if (!n.hook_done && argv.empty()) n.hook_done = true;
        if (!n.webhook_done && h.webhook_url.empty()) n.webhook_done = true;
        if (!n.hook_done && !hooks_running_.count(id) &&
            static_cast<int>(hooks_running_.size()) < h.max_running)
            run_hook(n);
        if (!n.webhook_done && !posting_.count(id)) {
            if (n.next_webhook_ms <= now)
                post(n);
            else if (next == 0 || n.next_webhook_ms < next)
                next = n.next_webhook_ms;
        }
        forget_if_done(id);
    }
    uv_timer_stop(timer_);
    if (next > 0)
        uv_timer_start(
            timer_, [](uv_timer_t* t) { static_cast<Notifier*>(t->data)->pump(); },
            static_cast<uint64_t>(std::max<int64_t>(1, next - now)), 0);
}

void Notifier::forget_if_done(const std::string& id) {
    auto it = notices_.find(id);
    if (it == notices_.end() || !it->second.hook_done || !it->second.webhook_done ||
        hooks_running_.count(id) || posting_.count(id))
        return;
    remove_notice(setup_.state_dir, id);
    notices_.erase(it);
    order_.erase(std::remove(order_.begin(), order_.end(), id), order_.end());
}

void Notifier::run_hook(Notice& n) {
    const bool delivered = n.outcome == "delivered";
    const auto& argv = delivered ? setup_.hooks.on_delivered : setup_.hooks.on_failed;
    const std::string who =
        std::string("hook ") + (delivered ? "on_delivered" : "on_failed") + " of " + n.name;
    hooks_running_.insert(n.id);
    auto started = std::chrono::steady_clock::now();
    runner_.run({hook_argv(argv, n), hook_env(n), setup_.hooks.timeout}, [this, id = n.id, who,
                                                                          started](HookResult r) {
        hooks_running_.erase(id);
        auto ms =
            std::chrono::duration_cast<Millis>(std::chrono::steady_clock::now() - started).count();
        if (r.ok()) {
            spdlog::info("{}: done in {} ms", who, ms);
            log_output(who, r, spdlog::level::info);
        } else {
            std::string why = !r.started ? r.error
                              : r.timed_out
                                  ? "killed after " + std::to_string(ms) + " ms (hooks.timeout)"
                              : r.term_signal ? "killed by signal " + std::to_string(r.term_signal)
                                              : "exited " + std::to_string(r.exit_status);
            spdlog::warn("{}: {} (the job is not affected)", who, why);
            log_output(who, r, spdlog::level::warn);
        }
        if (auto it = notices_.find(id); it != notices_.end()) {
            it->second.hook_done = true;
            save(it->second);
        }
        pump();
        if (settled_) settled_();
    });
}

void Notifier::post(Notice& n) {
    auto body = fs::read_file(n.sidecar, kMaxBody);
    if (!body || nlohmann::json::parse(*body, nullptr, false).is_discarded()) {
        // Moved away or unreadable by now: what the notice knows.
        body =
            nlohmann::json{{"schema", "videodrop.notice/1"},
                           {"name", n.name},
                           {"outcome", n.outcome},
                           {"error", n.error.empty() ? nlohmann::json() : nlohmann::json(n.error)},
                           {"sidecar", n.sidecar}}
                .dump();
    }
    HttpRequest req;
    req.method = "POST";
    req.url = setup_.hooks.webhook_url;
    req.authenticated = false;  // no provider's key, ever
    req.side_effects = true;    // each attempt sent once, redirects not followed
    req.timeout = kPostTimeout;
    req.headers = {{"Content-Type", "application/json"},
                   {"X-Videodrop-Event", n.outcome},
                   {"X-Videodrop-Delivery", n.id}};
    if (!setup_.secret.empty())
        req.headers.emplace_back("X-Videodrop-Signature", webhook_signature(setup_.secret, *body));
    req.body = std::move(*body);
    ++n.webhook_attempts;
    save(n);  // the attempt counts even if the daemon dies while it is on the wire
    posting_.insert(n.id);
    http_.send(req, [this, id = n.id](HttpResult r) {
        posting_.erase(id);
        auto it = notices_.find(id);
        if (stopped_ || it == notices_.end()) return;
        Notice& n = it->second;
        if (r.transport == TransportError::none && r.status >= 200 && r.status < 300) {
            n.webhook_done = true;
            spdlog::info("webhook of {}: taken ({})", n.name, what_happened(r));
        } else if (retryable(r) && n.webhook_attempts < setup_.hooks.webhook_attempts) {
            int64_t wait =
                std::min(kMaxRetryMs, kFirstRetryMs << std::min(n.webhook_attempts - 1, 20));
            n.next_webhook_ms = now_ms() + wait;
            spdlog::warn("webhook of {}: {}; again in {} s (attempt {} of {})", n.name,
                         what_happened(r), wait / 1000, n.webhook_attempts + 1,
                         setup_.hooks.webhook_attempts);
        } else {
            n.webhook_done = true;
            spdlog::error("webhook of {}: {}; given up after {} attempt(s)", n.name,
                          what_happened(r), n.webhook_attempts);
        }
        save(n);
        pump();
        if (settled_) settled_();
    });
}

void Notifier::shutdown() {
    if (stopped_) return;
    stopped_ = true;
    runner_.shutdown();
    if (timer_) {
        uv_timer_stop(timer_);
        uv_close(reinterpret_cast<uv_handle_t*>(timer_),
                 [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
        timer_ = nullptr;
    }
}

}  // namespace vd
