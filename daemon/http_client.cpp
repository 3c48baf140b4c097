#include "daemon/http_client.hpp"
#include "daemon/fsutil.hpp"
#include "daemon/http_transfer.hpp"
#include "daemon/redact.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <spdlog/spdlog.h>

namespace vd {

struct HttpClient::Socket {
    uv_poll_t poll;
    curl_socket_t fd;
    HttpClient* client;
};

using namespace http_detail;

namespace {

// The poll is freed only in its close callback, once libuv is done with it.
void close_socket(HttpClient::Socket* sock) {
    uv_poll_stop(&sock->poll);
    uv_close(reinterpret_cast<uv_handle_t*>(&sock->poll),
             [](uv_handle_t* h) { delete static_cast<HttpClient::Socket*>(h->data); });
}

void delete_handle(uv_handle_t* h) {
    switch (h->type) {
        case UV_TIMER:
            delete reinterpret_cast<uv_timer_t*>(h);
            break;
        case UV_IDLE:
            delete reinterpret_cast<uv_idle_t*>(h);
            break;
        default:
            break;
    }
}

}  // namespace

HttpClient::HttpClient(uv_loop_t* loop, std::map<std::string, ProviderEndpoint> endpoints,
                       HttpClientOptions options)
    : loop_(loop), options_(options) {
    set_endpoints(std::move(endpoints));
    multi_ = curl_multi_init();
    if (!multi_) throw std::runtime_error("curl_multi_init failed");
    curl_multi_setopt(multi_, CURLMOPT_SOCKETFUNCTION, &HttpClient::on_socket);
    curl_multi_setopt(multi_, CURLMOPT_SOCKETDATA, this);
    curl_multi_setopt(multi_, CURLMOPT_TIMERFUNCTION, &HttpClient::on_curl_timer);
    curl_multi_setopt(multi_, CURLMOPT_TIMERDATA, this);
    curl_multi_setopt(multi_, CURLMOPT_MAX_HOST_CONNECTIONS, options_.max_host_connections);
    timer_ = new uv_timer_t;
    uv_timer_init(loop_, timer_);
    timer_->data = this;
    idle_ = new uv_idle_t;
    uv_idle_init(loop_, idle_);
    idle_->data = this;
}

HttpClient::~HttpClient() {
    shutdown();
}

void HttpClient::set_endpoints(std::map<std::string, ProviderEndpoint> endpoints) {
    endpoints_ = std::move(endpoints);
    // Keys replaced by a reload stay secret: transfers may still carry them.
    for (const auto& [name, e] : endpoints_)
        for (const auto& k : e.keys)
            if (std::find(secrets_.begin(), secrets_.end(), k) == secrets_.end())
                secrets_.push_back(k);
}

uint64_t HttpClient::send(const HttpRequest& req, Done done, Piece piece) {
    auto t = std::make_unique<Transfer>();
    t->done = std::move(done);
    t->piece = std::move(piece);
    t->body_limit = options_.max_body_bytes;
    return start(std::move(t), req);
}

uint64_t HttpClient::download(const HttpRequest& req, std::string dest_path, DownloadDone done,
                              DownloadLimits limits) {
    auto t = std::make_unique<Transfer>();
    t->is_download = true;
    t->limits = limits;
    t->download_done = std::move(done);
    t->body_limit = options_.max_download_body_copy;
    t->dest = std::move(dest_path);
    return start(std::move(t), req);
}

uint64_t HttpClient::start(std::unique_ptr<Transfer> t, const HttpRequest& req) {
    if (!multi_) {
        spdlog::warn("http: request after shutdown ignored: {}", loggable_url(req.url));
        return 0;
    }
    t->id = next_id_++;
    t->method = req.method;
    t->log_url = loggable_url(req.url);
    uint64_t id = t->id;
    if (std::string error = prepare(*t, req); !error.empty()) {
        fail_later(std::move(t), std::move(error));
        return id;
    }
    CURLMcode rc = curl_multi_add_handle(multi_, t->easy);
    if (rc != CURLM_OK) {
        fail_later(std::move(t), std::string("curl_multi_add_handle: ") + curl_multi_strerror(rc));
        return id;
    }
    t->in_multi = true;
    spdlog::debug("http #{} {} {}", id, t->method, t->log_url);
    transfers_.emplace(id, std::move(t));
    return id;
}

std::string HttpClient::prepare(Transfer& t, const HttpRequest& req) const {
    if (t.is_download) {
        // Private until published; never through a symlink planted at the name.
        auto fd = fs::create_new(t.dest);
        if (!fd) return "cannot create the download file: " + fd.error();
        t.fd = *fd;
    }
    t.easy = curl_easy_init();
    if (!t.easy) return "curl_easy_init failed";
    auto ep = endpoints_.find(req.provider);
    const ProviderEndpoint* endpoint = ep == endpoints_.end() ? nullptr : &ep->second;
    if (req.authenticated && !endpoint) return "no provider named '" + req.provider + "'";

    if (CURLcode rc = set_options(t, req, options_, endpoint); rc != CURLE_OK)
        return std::string("curl option: ") + curl_easy_strerror(rc);
    if (std::string error = set_body(t, req); !error.empty()) return error;
    if (req.authenticated) {
        if (std::string error = add_auth(t, req, *endpoint); !error.empty()) return error;
    }
    if (curl_easy_setopt(t.easy, CURLOPT_HTTPHEADER, t.headers) != CURLE_OK)
        return "curl option: headers";
    return {};
}

void HttpClient::fail_later(std::unique_ptr<Transfer> t, std::string message) {
    spdlog::debug("http #{} {} {} failed before sending: {}", t->id, t->method, t->log_url,
                  message);
    t->result.transport = TransportError::not_sent;
    t->result.transport_message = std::move(message);
    failed_early_.push_back(t->id);
    transfers_.emplace(t->id, std::move(t));
    uv_idle_start(idle_, &HttpClient::on_idle);
}

void HttpClient::on_idle(uv_idle_t* idle) {
    auto* self = static_cast<HttpClient*>(idle->data);
    uv_idle_stop(idle);
    self->finish_failed_early();
}

void HttpClient::finish_failed_early() {
    auto ids = std::move(failed_early_);
    failed_early_.clear();
    for (uint64_t id : ids) {
        auto it = transfers_.find(id);
        if (it == transfers_.end()) continue;  // cancelled, or shut down by an earlier callback
        auto t = std::move(it->second);
        transfers_.erase(it);
        release(*t);
        redact(t->result, secrets_);
        try {
            if (t->is_download)
                t->download_done(std::move(t->result), 0);
            else
                t->done(std::move(t->result));
        } catch (const std::exception& ex) {
            spdlog::error("http #{}: callback threw: {}", id, ex.what());
        }
    }
}

void HttpClient::cancel(uint64_t id) {
    auto it = transfers_.find(id);
    if (it == transfers_.end()) return;
    auto t = std::move(it->second);
    transfers_.erase(it);
    spdlog::debug("http #{} cancelled", id);
    release(*t);
}

void HttpClient::release(Transfer& t) {
    if (t.in_multi && multi_) curl_multi_remove_handle(multi_, t.easy);
    t.in_multi = false;
    if (t.easy) curl_easy_cleanup(t.easy);
    t.easy = nullptr;
    curl_mime_free(t.mime);  // after the easy handle, which reads it until cleaned up
    t.mime = nullptr;
    curl_slist_free_all(t.headers);
    t.headers = nullptr;
    if (t.fd >= 0) ::close(t.fd);
    t.fd = -1;
}

int HttpClient::on_socket(CURL*, curl_socket_t s, int what, void* userp, void* socketp) {
    auto* self = static_cast<HttpClient*>(userp);
    auto* sock = static_cast<Socket*>(socketp);
    if (what == CURL_POLL_REMOVE) {
        if (sock) {
            self->sockets_.erase(sock);
            close_socket(sock);
            curl_multi_assign(self->multi_, s, nullptr);
        }
        return 0;
    }
    if (!sock) {
        sock = new Socket{};
        sock->fd = s;
        sock->client = self;
        int rc = uv_poll_init_socket(self->loop_, &sock->poll, s);
        if (rc < 0) {
            spdlog::error("http: uv_poll_init_socket: {}", uv_strerror(rc));
            delete sock;
            return -1;
        }
        sock->poll.data = sock;
        self->sockets_.insert(sock);
        CURLMcode mrc = curl_multi_assign(self->multi_, s, sock);
        if (mrc != CURLM_OK) spdlog::error("http: curl_multi_assign: {}", curl_multi_strerror(mrc));
    }
    int events = 0;
    if (what & CURL_POLL_IN) events |= UV_READABLE;
    if (what & CURL_POLL_OUT) events |= UV_WRITABLE;
    int rc = uv_poll_start(&sock->poll, events, &HttpClient::on_poll);
    if (rc < 0) {
        spdlog::error("http: uv_poll_start: {}", uv_strerror(rc));
        return -1;
    }
    return 0;
}

int HttpClient::on_curl_timer(CURLM*, long timeout_ms, void* userp) {
    auto* self = static_cast<HttpClient*>(userp);
    if (!self->timer_) return 0;
    if (timeout_ms < 0) {
        uv_timer_stop(self->timer_);
        return 0;
    }
    // A 0 ms libuv timer can busy-loop in libuv 1.44; curl only wants "as soon as possible".
    uint64_t ms = timeout_ms == 0 ? 1 : static_cast<uint64_t>(timeout_ms);
    uv_timer_start(self->timer_, &HttpClient::on_uv_timer, ms, 0);
    return 0;
}

void HttpClient::on_uv_timer(uv_timer_t* timer) {
    static_cast<HttpClient*>(timer->data)->socket_action(CURL_SOCKET_TIMEOUT, 0);
}

void HttpClient::on_poll(uv_poll_t* poll, int status, int events) {
    auto* sock = static_cast<Socket*>(poll->data);
    int flags = 0;
    if (status < 0) {
        flags = CURL_CSELECT_ERR;  // so curl fails the transfer instead of waiting forever
    } else {
        if (events & UV_READABLE) flags |= CURL_CSELECT_IN;
        if (events & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
    }
    sock->client->socket_action(sock->fd, flags);
}

void HttpClient::socket_action(curl_socket_t s, int flags) {
    if (!multi_) return;
    int running = 0;
    CURLMcode rc = curl_multi_socket_action(multi_, s, flags, &running);
    if (rc != CURLM_OK)
        spdlog::error("http: curl_multi_socket_action: {}", curl_multi_strerror(rc));
    drain();
}

void HttpClient::drain() {
    struct Finished {
        uint64_t id;
        CURLcode code;
    };
    std::vector<Finished> finished;
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi_, &left)) {
        if (msg->msg != CURLMSG_DONE) continue;
        CURLcode code = msg->data.result;  // msg dies with curl_multi_remove_handle
        CURL* easy = msg->easy_handle;
        char* priv = nullptr;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
        auto* t = reinterpret_cast<Transfer*>(priv);
        curl_multi_remove_handle(multi_, easy);
        t->in_multi = false;
        finished.push_back({t->id, code});
    }
    // Callbacks run only now: they may send, cancel or shut down, which touches the multi handle.
    for (const auto& f : finished) {
        auto it = transfers_.find(f.id);
        if (it == transfers_.end()) continue;
        auto t = std::move(it->second);
        transfers_.erase(it);
        finish(std::move(t), f.code);
    }
}

void HttpClient::finish(std::unique_ptr<Transfer> t, CURLcode code) {
    HttpResult& r = t->result;
    long status = 0;
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
    r.status = static_cast<int>(status);
    char* ct = nullptr;
    if (curl_easy_getinfo(t->easy, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct)
        r.content_type = media_type(ct);
    long request_size = 0;
    curl_easy_getinfo(t->easy, CURLINFO_REQUEST_SIZE, &request_size);
    curl_off_t micros = 0;
    curl_easy_getinfo(t->easy, CURLINFO_TOTAL_TIME_T, &micros);

    r.transport = classify(code, request_size);
    if (code == CURLE_FILESIZE_EXCEEDED) t->body_too_large = true;
    if (code != CURLE_OK) {
        if (t->body_too_large && t->is_download)
            r.transport_message = "the body is larger than " + std::to_string(t->limits.max_bytes) +
                                  " bytes, more than a video of this length can be (see "
                                  "[download] max_mbit_per_second); cut off";
        else if (t->body_too_large)
            r.transport_message =
                "response body larger than " + std::to_string(t->body_limit) + " bytes";
        else if (code == CURLE_OPERATION_TIMEDOUT && t->is_download)
            r.transport_message =
                std::string(t->error[0] ? t->error : "timed out") +
                " (a download slower than [download] min_bytes_per_second, or longer than its "
                "deadline, is cut off)";
        else if (t->write_errno)
            r.transport_message =
                "writing the download file: " + std::string(std::strerror(t->write_errno));
        else
            r.transport_message = t->error[0] ? t->error : curl_easy_strerror(code);
    }
    if (t->is_download && t->fd >= 0) {
        // Durable before the caller renames it into place.
        int rc = ::fsync(t->fd);
        int err = errno;
        ::close(t->fd);
        t->fd = -1;
        if (rc != 0 && r.transport == TransportError::none) {
            r.transport = TransportError::after_send;
            r.transport_message = "fsync of the download file: " + std::string(std::strerror(err));
        }
    }
    redact(r, secrets_);
    spdlog::debug("http #{} {} {} -> {}{}{} ({} bytes, {} ms)", t->id, t->method, t->log_url,
                  r.status, r.transport_message.empty() ? "" : ": ", r.transport_message,
                  t->is_download ? t->bytes : static_cast<int64_t>(r.body.size()), micros / 1000);
    release(*t);
    try {
        if (t->is_download)
            t->download_done(std::move(r), t->bytes);
        else
            t->done(std::move(r));
    } catch (const std::exception& ex) {
        spdlog::error("http #{}: callback threw: {}", t->id, ex.what());
    }
}

void HttpClient::shutdown() {
    if (!multi_) return;
    uv_timer_stop(timer_);
    uv_idle_stop(idle_);
    auto transfers = std::move(transfers_);
    transfers_.clear();
    failed_early_.clear();
    for (auto& [id, t] : transfers)
        release(*t);
    // Curl may still call the timer callback while cleaning up; it must find no timer.
    uv_close(reinterpret_cast<uv_handle_t*>(timer_), &delete_handle);
    timer_ = nullptr;
    curl_multi_cleanup(multi_);
    multi_ = nullptr;
    // Sockets curl did not report as removed (cached connections) are closed here.
    for (Socket* s : sockets_)
        close_socket(s);
    sockets_.clear();
    uv_close(reinterpret_cast<uv_handle_t*>(idle_), &delete_handle);
    idle_ = nullptr;
}

}  // namespace vd