#include "daemon/http_client.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <openssl/evp.h>
#include <spdlog/spdlog.h>

namespace vd {

struct HttpClient::Socket {
    uv_poll_t poll;
    curl_socket_t fd;
    HttpClient* client;
};

struct HttpClient::Transfer {
    uint64_t id = 0;
    CURL* easy = nullptr;
    curl_slist* headers = nullptr;
    curl_mime* mime = nullptr;
    bool in_multi = false;
    char error[CURL_ERROR_SIZE] = {};
    std::string method;
    std::string log_url;  // without query or userinfo: signed links carry secrets there
    HttpResult result;
    int status_seen = 0;  // from the last status line, for the write callbacks
    size_t body_limit = 0;
    bool body_too_large = false;
    Done done;
    // Downloads only.
    bool is_download = false;
    std::string dest;
    int fd = -1;
    int64_t bytes = 0;
    int write_errno = 0;
    int copy_body = -1;  // -1 undecided, 0 no, 1 yes
    DownloadDone download_done;
};

namespace {

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front())))
        s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())))
        s.remove_suffix(1);
    return s;
}

std::string media_type(std::string_view content_type) {
    return lower(std::string(trim(content_type.substr(0, content_type.find(';')))));
}

std::string loggable_url(const std::string& url) {
    std::string u = url.substr(0, url.find_first_of("?#"));
    auto scheme_end = u.find("://");
    if (scheme_end != std::string::npos) {
        auto host = scheme_end + 3;
        auto at = u.find('@', host);
        if (at != std::string::npos && at < u.find('/', host)) u.erase(host, at + 1 - host);
    }
    return u;
}

struct Origin {
    std::string scheme, host, port;
    bool operator==(const Origin&) const = default;
};

std::optional<Origin> origin_of(const std::string& url) {
    CURLU* u = curl_url();
    if (!u) return std::nullopt;
    std::optional<Origin> out;
    if (curl_url_set(u, CURLUPART_URL, url.c_str(), 0) == CURLUE_OK) {
        char *scheme = nullptr, *host = nullptr, *port = nullptr;
        if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
            curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
            curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK)
            out = Origin{lower(scheme), lower(host), port};
        curl_free(scheme);
        curl_free(host);
        curl_free(port);
    }
    curl_url_cleanup(u);
    return out;
}

std::string base64(std::string_view in) {
    std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
    int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(in.data()),
                            static_cast<int>(in.size()));
    out.resize(static_cast<size_t>(n));
    return out;
}

std::string auth_header(AuthScheme scheme, const std::string& key) {
    switch (scheme) {
        case AuthScheme::bearer:
            return "Authorization: Bearer " + key;
        case AuthScheme::bare:
            return "Authorization: " + key;
        case AuthScheme::basic:
            return "Authorization: Basic " + base64(key);
    }
    return {};
}

// Whether the request can have reached the server: only then is its outcome unknown.
TransportError classify(CURLcode code, long request_size) {
    switch (code) {
        case CURLE_OK:
            return TransportError::none;
        case CURLE_UNSUPPORTED_PROTOCOL:
        case CURLE_URL_MALFORMAT:
        case CURLE_COULDNT_RESOLVE_PROXY:
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_CONNECT:
        case CURLE_PROXY:
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CERTPROBLEM:
        case CURLE_SSL_CIPHER:
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_SSL_ENGINE_NOTFOUND:
        case CURLE_SSL_ENGINE_SETFAILED:
            return TransportError::not_sent;
        default:
            return request_size == 0 ? TransportError::not_sent : TransportError::after_send;
    }
}

size_t on_header(char* data, size_t size, size_t count, void* userp) noexcept {
    auto* t = static_cast<HttpClient::Transfer*>(userp);
    size_t len = size * count;
    try {
        std::string_view line = trim(std::string_view(data, len));
        if (line.substr(0, 5) == "HTTP/") {
            // A new response (redirect hop, 100 Continue): only the last one's headers count.
            t->result.headers.clear();
            auto sp = line.find(' ');
            t->status_seen = sp == std::string_view::npos ? 0 : std::atoi(line.data() + sp + 1);
            return len;
        }
        auto colon = line.find(':');
        if (colon == std::string_view::npos) return len;
        t->result.headers.emplace_back(lower(std::string(trim(line.substr(0, colon)))),
                                       std::string(trim(line.substr(colon + 1))));
        return len;
    } catch (...) {
        return 0;  // never throw into curl; aborts the transfer with CURLE_WRITE_ERROR
    }
}

size_t on_body(char* data, size_t size, size_t count, void* userp) noexcept {
    auto* t = static_cast<HttpClient::Transfer*>(userp);
    size_t len = size * count;
    if (t->result.body.size() + len > t->body_limit) {
        t->body_too_large = true;
        return 0;
    }
    try {
        t->result.body.append(data, len);
    } catch (...) {
        return 0;
    }
    return len;
}

bool answer_worth_copying(const HttpClient::Transfer& t) {
    if (t.status_seen >= 400) return true;
    auto ct = t.result.header("content-type");
    if (!ct) return false;
    std::string type = media_type(*ct);
    return type.find("json") != std::string::npos || type.rfind("text/", 0) == 0;
}

size_t on_file(char* data, size_t size, size_t count, void* userp) noexcept {
    auto* t = static_cast<HttpClient::Transfer*>(userp);
    size_t len = size * count;
    for (size_t off = 0; off < len;) {
        ssize_t n = ::write(t->fd, data + off, len - off);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            t->write_errno = errno;
            return 0;
        }
        off += static_cast<size_t>(n);
    }
    t->bytes += static_cast<int64_t>(len);
    try {
        if (t->copy_body < 0) t->copy_body = answer_worth_copying(*t) ? 1 : 0;
        if (t->copy_body == 1 && t->result.body.size() < t->body_limit)
            t->result.body.append(data, std::min(len, t->body_limit - t->result.body.size()));
    } catch (...) {
        t->copy_body = 0;  // the copy is a courtesy; the file is what counts
    }
    return len;
}

CURLcode set_options(HttpClient::Transfer& t, const HttpRequest& req,
                     const HttpClientOptions& options, const ProviderEndpoint* endpoint) {
    CURL* e = t.easy;
    CURLcode rc = CURLE_OK;
    auto set = [&](CURLoption opt, auto value) {
        if (rc == CURLE_OK) rc = curl_easy_setopt(e, opt, value);
    };
    set(CURLOPT_URL, req.url.c_str());
    set(CURLOPT_PRIVATE, static_cast<void*>(&t));
    set(CURLOPT_ERRORBUFFER, t.error);
    set(CURLOPT_NOSIGNAL, 1L);
    set(CURLOPT_USERAGENT, "videodrop/" VD_VERSION);
    set(CURLOPT_PROTOCOLS_STR, "http,https");
    set(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    if (req.side_effects) {
        // Sent once, never repeated underneath the engine (a repeated create is a second bill):
        // - libcurl resends a request whose reused keep-alive connection died before any answer
        //   byte ("Connection died, retrying a fresh connect"); it does so only for a reused
        //   connection, so these requests take a fresh one and leave it closed behind them.
        // - HTTP/2 lets libcurl replay a stream the server refused (REFUSED_STREAM, GOAWAY);
        //   HTTP/1.1 has no such replay.
        // - A 307/308 would resend the body to another URL: redirects are not followed, and the
        //   3xx reaches the engine as an answer.
        // - No multi-pass authentication is set (our Authorization header goes out at once), the
        //   body never waits on "Expect: 100-continue" (see set_body), and a proxy that refuses
        //   (407) ends the transfer: libcurl sends nothing twice for any of them.
        set(CURLOPT_FRESH_CONNECT, 1L);
        set(CURLOPT_FORBID_REUSE, 1L);
        set(CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1));
        set(CURLOPT_FOLLOWLOCATION, 0L);
    } else {
        // curl (>= 7.83) drops our Authorization header on a redirect to another host, port or
        // scheme; the tests hold it to that.
        set(CURLOPT_FOLLOWLOCATION, 1L);
        set(CURLOPT_MAXREDIRS, options.max_redirects);
    }
    set(CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options.connect_timeout.count()));
    set(CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
    set(CURLOPT_HEADERFUNCTION, &on_header);
    set(CURLOPT_HEADERDATA, static_cast<void*>(&t));
    set(CURLOPT_WRITEDATA, static_cast<void*>(&t));
    if (t.is_download) {
        set(CURLOPT_WRITEFUNCTION, &on_file);
        // A stalled download is cut off; a slow but moving one may take as long as it needs.
        set(CURLOPT_LOW_SPEED_LIMIT, options.low_speed_bytes);
        set(CURLOPT_LOW_SPEED_TIME,
            static_cast<long>(std::max<int64_t>(1, options.low_speed_time.count() / 1000)));
    } else {
        set(CURLOPT_WRITEFUNCTION, &on_body);
        set(CURLOPT_TIMEOUT_MS, static_cast<long>(options.api_timeout.count()));
    }
    if (endpoint && !endpoint->proxy.empty()) set(CURLOPT_PROXY, endpoint->proxy.c_str());
    return rc;
}

// Method, caller headers and body (JSON or multipart). Returns an error message or "".
std::string set_body(HttpClient::Transfer& t, const HttpRequest& req) {
    CURL* e = t.easy;
    bool has_content_type = false;
    for (const auto& [name, value] : req.headers) {
        std::string n = lower(name);
        if (n == "authorization") continue;  // credentials come from the endpoint, nowhere else
        has_content_type = has_content_type || n == "content-type";
        t.headers = curl_slist_append(t.headers, (name + ": " + value).c_str());
    }
    // curl would wait up to a second for "100 Continue" before sending a large body.
    t.headers = curl_slist_append(t.headers, "Expect:");

    CURLcode rc = CURLE_OK;
    if (!req.form.empty()) {
        t.mime = curl_mime_init(e);
        for (const auto& part : req.form) {
            curl_mimepart* p = curl_mime_addpart(t.mime);
            curl_mime_name(p, part.name.c_str());
            if (part.file_path.empty()) {
                curl_mime_data(p, part.value.data(), part.value.size());
                continue;
            }
            if (curl_mime_filedata(p, part.file_path.c_str()) != CURLE_OK)
                return "cannot read the file for form part '" + part.name + "'";
            if (!part.content_type.empty()) curl_mime_type(p, part.content_type.c_str());
        }
        rc = curl_easy_setopt(e, CURLOPT_MIMEPOST, t.mime);
    } else if (!req.body.empty() || req.method == "POST" || req.method == "PUT" ||
               req.method == "PATCH") {
        if (!has_content_type)
            t.headers = curl_slist_append(t.headers, "Content-Type: application/json");
        rc = curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
                              static_cast<curl_off_t>(req.body.size()));
        if (rc == CURLE_OK) rc = curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, req.body.c_str());
    } else if (req.method == "HEAD") {
        rc = curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    }
    bool custom = req.method != "GET" && req.method != "HEAD" && req.method != "POST";
    if (rc == CURLE_OK && custom)
        rc = curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, req.method.c_str());
    if (rc != CURLE_OK) return std::string("curl option: ") + curl_easy_strerror(rc);
    return {};
}

// Credentials only for the provider's own scheme://host:port; a keyless provider gets none.
std::string add_auth(HttpClient::Transfer& t, const HttpRequest& req,
                     const ProviderEndpoint& endpoint) {
    auto target = origin_of(req.url);
    if (!target || target != origin_of(endpoint.base_url) || endpoint.keys.empty()) return {};
    if (req.key_slot < 0 || static_cast<size_t>(req.key_slot) >= endpoint.keys.size())
        return "provider '" + req.provider + "' has no key in slot " + std::to_string(req.key_slot);
    t.headers = curl_slist_append(t.headers,
                                  auth_header(endpoint.auth, endpoint.keys[req.key_slot]).c_str());
    return {};
}

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
    : loop_(loop), endpoints_(std::move(endpoints)), options_(options) {
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
}

uint64_t HttpClient::send(const HttpRequest& req, Done done) {
    auto t = std::make_unique<Transfer>();
    t->done = std::move(done);
    t->body_limit = options_.max_body_bytes;
    return start(std::move(t), req);
}

uint64_t HttpClient::download(const HttpRequest& req, std::string dest_path, DownloadDone done) {
    auto t = std::make_unique<Transfer>();
    t->is_download = true;
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
        t.fd = ::open(t.dest.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (t.fd < 0)
            return "cannot create the download file: " + std::string(std::strerror(errno));
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
    if (code != CURLE_OK) {
        if (t->body_too_large)
            r.transport_message =
                "response body larger than " + std::to_string(t->body_limit) + " bytes";
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
