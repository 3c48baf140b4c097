// HTTP for the shell: libcurl's multi interface driven by the libuv loop (architecture.md,
// "libcurl on libuv"). Requests are plain values from the core; this adds credentials, carries
// them out and reports every transfer exactly once (unless cancelled).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <curl/curl.h>
#include <uv.h>

#include "pipeline/http.hpp"
#include "pipeline/types.hpp"

namespace vd {

// Where a provider lives and how to authenticate to it. Keys never leave this struct except
// in the Authorization header of a request to `base_url`'s own scheme://host:port.
struct ProviderEndpoint {
    std::string base_url;
    AuthScheme auth = AuthScheme::bearer;
    std::vector<std::string> keys;  // the pool; HttpRequest::key_slot indexes it
    std::string proxy;  // "" (curl's default: the *_proxy environment) or http(s)://, socks5(h)://
};

// What one download may take, whatever the server sends (the engine derives them from the job).
struct DownloadLimits {
    int64_t max_bytes = int64_t{1} << 30;  // a longer body (announced or sent) fails at once
    int64_t min_bytes_per_second = 1024;   // slower than this on average ...
    Millis low_speed_time{30000};          // ... for this long: cut
    Millis deadline{0};                    // the whole transfer; 0: none
};

struct HttpClientOptions {
    Millis connect_timeout{10000};
    Millis api_timeout{60000};                // total, for send(); downloads have DownloadLimits
    size_t max_body_bytes = 8 * 1024 * 1024;  // send(): a larger answer is an error
    size_t max_download_body_copy = 1024 * 1024;  // download(): JSON/text answers kept in body
    long max_redirects = 5;
    long max_host_connections = 16;  // more transfers to one host queue inside curl
};

class HttpClient {
  public:
    using Done = std::function<void(HttpResult)>;
    using DownloadDone = std::function<void(HttpResult, int64_t bytes)>;
    using Piece = std::function<void(std::string_view)>;

    // curl_global_init must have been called. The loop must outlive the client's handles: after
    // shutdown() (or the destructor) run the loop until it is idle.
    HttpClient(uv_loop_t* loop, std::map<std::string, ProviderEndpoint> endpoints,
               HttpClientOptions options = {});
    ~HttpClient();
    HttpClient(const HttpClient&) = delete;
    HttpClient& operator=(const HttpClient&) = delete;

    // New keys, URLs or proxies (SIGHUP); transfers already running keep what they started with.
    void set_endpoints(std::map<std::string, ProviderEndpoint> endpoints);

    // Authorization is added only when req.authenticated and the URL's scheme, host and port are
    // those of the provider's base_url; curl drops it on a redirect to another host or port.
    // `done` is always called later from the loop, never from inside send() or download().
    // `piece`, when set, sees each piece of the body as it arrives (a streamed answer); it is
    // called from inside libcurl and must not start or cancel a transfer.
    uint64_t send(const HttpRequest& req, Done done, Piece piece = {});
    // Streams the body into dest_path (made anew now by fs::create_new, private, never through a
    // symlink; fsynced and closed before `done`; the caller renames it). A JSON, text or error
    // answer is also copied into HttpResult::body so the core can read a `{url}` answer. A short
    // body is TransportError::after_send.
    uint64_t download(const HttpRequest& req, std::string dest_path, DownloadDone done,
                      DownloadLimits limits = {});
    // Stops a transfer; its callback is not called. Unknown or finished ids are ignored.
    void cancel(uint64_t id);
    size_t active() const { return transfers_.size(); }
    // Cancels everything and closes the handles; the loop can close cleanly once it ran until
    // idle. Safe to call twice, and from inside a callback.
    void shutdown();

    struct Transfer;  // one request in flight (http_client.cpp)
    struct Socket;    // one uv_poll_t for one curl socket

  private:
    uint64_t start(std::unique_ptr<Transfer> t, const HttpRequest& req);
    std::string prepare(Transfer& t, const HttpRequest& req) const;  // error message or ""
    void fail_later(std::unique_ptr<Transfer> t, std::string message);
    void drain();  // curl_multi_info_read after every curl_multi_socket_action
    void finish(std::unique_ptr<Transfer> t, CURLcode code);
    void finish_failed_early();
    void release(Transfer& t);
    void socket_action(curl_socket_t s, int flags);

    static int on_socket(CURL* easy, curl_socket_t s, int what, void* userp, void* socketp);
    static int on_curl_timer(CURLM* multi, long timeout_ms, void* userp);
    static void on_uv_timer(uv_timer_t* timer);
    static void on_poll(uv_poll_t* poll, int status, int events);
    static void on_idle(uv_idle_t* idle);

    uv_loop_t* loop_;
    std::map<std::string, ProviderEndpoint> endpoints_;
    std::vector<std::string> secrets_;  // every key ever configured: redacted from every answer
    HttpClientOptions options_;
    CURLM* multi_ = nullptr;
    uv_timer_t* timer_ =
        nullptr;  // heap: freed by its close callback, which may run after ~HttpClient
    uv_idle_t* idle_ = nullptr;  // reports requests that failed before reaching curl
    std::map<uint64_t, std::unique_ptr<Transfer>> transfers_;
    std::vector<uint64_t> failed_early_;
    std::set<Socket*> sockets_;  // polls not yet closing, so shutdown can close what curl left
    uint64_t next_id_ = 1;
};

}  // namespace vd
