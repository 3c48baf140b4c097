#include "daemon/http_client.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <thread>

#include <catch2/catch.hpp>

#include "mock/http_lib.hpp"
#include "tests/daemon/loop_guard.hpp"

using namespace std::chrono_literals;
using vd::HttpClient;
using vd::HttpRequest;
using vd::HttpResult;
using vd::TransportError;
using vd::test::LoopGuard;

namespace {

void curl_once() {
    static const bool ready = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
    REQUIRE(ready);
}

// A cpp-httplib server on 127.0.0.1, port 0, in a background thread.
struct TestServer {
    httplib::Server svr;
    std::thread thread;
    int port = 0;

    TestServer() {
        svr.new_task_queue = [] { return new httplib::ThreadPool(32); };
    }
    void start() {
        port = svr.bind_to_any_port("127.0.0.1");
        REQUIRE(port > 0);
        thread = std::thread([this] { svr.listen_after_bind(); });
        while (!svr.is_running())
            std::this_thread::sleep_for(1ms);
    }
    ~TestServer() {
        svr.stop();
        if (thread.joinable()) thread.join();
    }
    std::string url(const std::string& path, const std::string& host = "127.0.0.1") const {
        return "http://" + host + ":" + std::to_string(port) + path;
    }
};

// Records the Authorization header of the last request (or that there was none).
struct AuthRecorder {
    std::mutex mu;
    std::optional<std::string> last;
    int hits = 0;
    void record(const httplib::Request& req) {
        std::lock_guard lock(mu);
        ++hits;
        last = req.has_header("Authorization")
                   ? std::optional<std::string>(req.get_header_value("Authorization"))
                   : std::nullopt;
    }
};

// A one-connection server speaking just enough HTTP to misbehave: it answers every request
// with `reply` and closes.
struct RawServer {
    int fd = -1;
    int port = 0;
    std::thread thread;

    explicit RawServer(std::string reply) {
        fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
        socklen_t len = sizeof addr;
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
        port = ntohs(addr.sin_port);
        REQUIRE(::listen(fd, 4) == 0);
        thread = std::thread([this, reply = std::move(reply)] {
            int c = ::accept(fd, nullptr, nullptr);
            if (c < 0) return;
            std::string req;
            char buf[4096];
            while (req.find("\r\n\r\n") == std::string::npos) {
                ssize_t n = ::read(c, buf, sizeof buf);
                if (n <= 0) break;
                req.append(buf, static_cast<size_t>(n));
            }
            (void)!::write(c, reply.data(), reply.size());
            ::close(c);
        });
    }
    ~RawServer() {
        ::shutdown(fd, SHUT_RDWR);
        ::close(fd);
        thread.join();
    }
};

// A port nobody listens on: bound, then closed.
int closed_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    ::close(fd);
    return ntohs(addr.sin_port);
}

struct TempDir {
    std::filesystem::path path;
    TempDir() {
        std::string tmpl = (std::filesystem::temp_directory_path() / "vd-http-XXXXXX").string();
        REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
        path = tmpl;
    }
    ~TempDir() { std::filesystem::remove_all(path); }
};

std::string read_all(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}

std::string pattern_bytes(size_t n) {
    std::string s(n, '\0');
    uint32_t x = 2463534242u;
    for (auto& c : s) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        c = static_cast<char>(x);
    }
    return s;
}

vd::ProviderEndpoint endpoint(const TestServer& s, vd::AuthScheme auth = vd::AuthScheme::bearer) {
    vd::ProviderEndpoint e;
    e.base_url = s.url("/v1");
    e.auth = auth;
    e.keys = {"key-one", "key-two"};
    return e;
}

HttpRequest get(const std::string& url, const std::string& provider = "p") {
    HttpRequest r;
    r.url = url;
    r.provider = provider;
    return r;
}

// Sends one request and runs the loop until it is answered.
HttpResult send_one(LoopGuard& loop, HttpClient& client, const HttpRequest& req) {
    std::optional<HttpResult> out;
    client.send(req, [&](HttpResult r) { out = std::move(r); });
    REQUIRE(loop.run_until([&] { return out.has_value(); }, 5s));
    return *out;
}

}  // namespace

TEST_CASE("GET returns status, lower-cased headers and the JSON body", "[http]") {
    curl_once();
    TestServer s;
    s.svr.Get("/v1/videos/v1", [](const httplib::Request&, httplib::Response& res) {
        res.set_header("X-Request-Id", "req_42");
        res.set_content(R"({"id":"v1","status":"queued"})", "application/json; charset=utf-8");
    });
    s.start();
    LoopGuard loop;
    {
        HttpClient client(loop, {{"p", endpoint(s)}});
        HttpResult r = send_one(loop, client, get(s.url("/v1/videos/v1")));
        CHECK(r.transport == TransportError::none);
        CHECK(r.status == 200);
        CHECK(r.content_type == "application/json");
        CHECK(r.body == R"({"id":"v1","status":"queued"})");
        CHECK(r.request_id() == "req_42");
        CHECK(client.active() == 0);
    }
    REQUIRE(loop.close() == 0);
}

TEST_CASE("POST sends the JSON body with a JSON content type", "[http]") {
    curl_once();
    TestServer s;
    std::string got_body, got_type, got_ua;
    s.svr.Post("/v1/videos", [&](const httplib::Request& req, httplib::Response& res) {
        got_body = req.body;
        got_type = req.get_header_value("Content-Type");
        got_ua = req.get_header_value("User-Agent");
        res.status = 201;
        res.set_content("{}", "application/json");
    });
    s.start();
    LoopGuard loop;
    {
        HttpClient client(loop, {{"p", endpoint(s)}});
        HttpRequest req = get(s.url("/v1/videos"));
        req.method = "POST";
        req.body = R"({"prompt":"a cat","seconds":"4"})";
        HttpResult r = send_one(loop, client, req);
        CHECK(r.status == 201);
        CHECK(got_body == req.body);
        CHECK(got_type == "application/json");
        CHECK(got_ua == "videodrop/" VD_VERSION);
    }
    REQUIRE(loop.close() == 0);
}

TEST_CASE("DELETE goes out as DELETE without a body", "[http]") {
    curl_once();
    TestServer s;
    std::string method;
    s.svr.Delete("/v1/videos/v1", [&](const httplib::Request& req, httplib::Response& res) {
        method = req.method;
        res.set_content(R"({"deleted":true})", "application/json");
    });
    s.start();
    LoopGuard loop;
    {
        HttpClient client(loop, {{"p", endpoint(s)}});
        HttpRequest req = get(s.url("/v1/videos/v1"));
        req.method = "DELETE";
        HttpResult r = send_one(loop, client, req);
        CHECK(r.status == 200);
        CHECK(method == "DELETE");
    }
    REQUIRE(loop.close() == 0);
}

TEST_CASE("multipart POST delivers fields and a binary file part intact", "[http]") {
    curl_once();
    TempDir tmp;
    const std::string image = pattern_bytes(300 * 1024);
    std::ofstream(tmp.path / "cat.png", std::ios::binary) << image;
    TestServer s;
    std::string got_prompt, got_file, got_file_type, got_file_name;
    s.svr.Post("/v1/videos", [&](const httplib::Request& req, httplib::Response& res) {
        got_prompt = req.get_file_value("prompt").content;
        auto f = req.get_file_value("input_reference");
        got_file = f.content;
        got_file_type = f.content_type;
        got_file_name = f.filename;
        res.set_content("{}", "application/json");
    });
    s.start();
    LoopGuard loop;
    {
        HttpClient client(loop, {{"p", endpoint(s)}});
        HttpRequest req = get(s.url("/v1/videos"));
        req.method = "POST";
        req.form = {{"prompt", "a cat at the piano", "", ""},
                    {"input_reference", "", (tmp.path / "cat.png").string(), "image/png"}};
        HttpResult r = send_one(loop, client, req);
        CHECK(r.status == 200);
        CHECK(got_prompt == "a cat at the piano");
        CHECK(got_file_type == "image/png");
        CHECK(got_file_name == "cat.png");
        CHECK(got_file.size() == image.size());
        CHECK(got_file == image);
    }
    REQUIRE(loop.close() == 0);
}

TEST_CASE("a multipart file that cannot be read fails as not sent, after send() returns",
          "[http]") {
    curl_once();
    LoopGuard loop;
    {
        HttpClient client(loop, {{"p", vd::ProviderEndpoint{"http://127.0.0.1:1", {}, {}, {}}}});
        HttpRequest req = get("http://127.0.0.1:1/v1/videos");
        req.method = "POST";
        req.form = {{"input_reference", "", "/nonexistent/cat.png", "image/png"}};
        std::optional<HttpResult> out;
        client.send(req, [&](HttpResult r) { out = std::move(r); });
        CHECK_FALSE(out.has_value());
        REQUIRE(loop.run_until([&] { return out.has_value(); }, 2s));
        CHECK(out->transport == TransportError::not_sent);
        CHECK(out->transport_message.find("input_reference") != std::string::npos);
    }
    REQUIRE(loop.close() == 0);
}

TEST_CASE("429 surfaces retry-after and retry-after-ms headers", "[http]") {
    curl_once();
    TestServer s;
    s.svr.Post("/v1/videos", [](const httplib::Request&, httplib::Response& res) {
        res.status = 429;
        res.set_header("Retry-After", "7");
        res.set_header("retry-after-ms", "6500");
        res.set_content(R"({"error":{"code":"rate_limit_exceeded"}})", "application/json");
    });
    s.start();
    LoopGuard loop;
    {
        HttpClient client(loop, {{"p", endpoint(s)}});
        HttpRequest req = get(s.url("/v1/videos"));
        req.method = "POST";
        req.body = "{}";
        HttpResult r = send_one(loop, client, req);
        CHECK(r.transport == TransportError::none);
        CHECK(r.status == 429);
        CHECK(r.header("retry-after") == "7");
        CHECK(r.header("retry-after-ms") == "6500");
    }
    REQUIRE(loop.close() == 0);
}

TEST_CASE("the Authorization header follows the provider's scheme and key slot", "[http]") {
    curl_once();
    TestServer s;
    AuthRecorder auth;
    s.svr.Get("/v1/models", [&](const httplib::Request& req, httplib::Response& res) {
        auth.record(req);
        res.set_content("{}", "application/json");
    });
    s.start();
    LoopGuard loop;
    {
        HttpClient client(loop, {});
        auto ask = [&](vd::AuthScheme scheme, std::vector<std::string> keys, int slot) {
            auto e = endpoint(s, scheme);
            e.keys = std::move(keys);
            client.set_endpoints({{"p", e}});
            HttpRequest req = get(s.url("/v1/models"));
            req.key_slot = slot;
            REQUIRE(send_one(loop, client, req).status == 200);
            return auth.last;
        };
        CHECK(ask(vd::AuthScheme::bearer, {"sk-1", "sk-2"}, 0) == "Bearer sk-1");
        CHECK(ask(vd::AuthScheme::bearer, {"sk-1", "sk-2"}, 1) == "Bearer sk-2");
        CHECK(ask(vd::AuthScheme::bare, {"sk-1"}, 0) == "sk-1");
        CHECK(ask(vd::AuthScheme::basic, {"user:pass"}, 0) == "Basic dXNlcjpwYXNz");
        CHECK(ask(vd::AuthScheme::bearer, {}, 0) == std::nullopt);  // a keyless gateway

        HttpRequest anonymous = get(s.url("/v1/models"));
        anonymous.authenticated = false;
        anonymous.headers = {{"Authorization", "Bearer smuggled"}};
        client.set_endpoints({{"p", endpoint(s)}});
        REQUIRE(send_one(loop, client, anonymous).status == 200);
        CHECK(auth.last == std::nullopt);
    }
    REQUIRE(loop.close() == 0);
}

TEST_CASE("a key slot outside the pool fails as not sent without contacting the server", "[http]") {
    curl_once();
    TestServer s;
    AuthRecorder auth;
    s.svr.Get("/v1/models",
              [&](const httplib::Request& req, httplib::Response&) { auth.record(req); });
    s.start();
    LoopGuard loop;
    {
        HttpClient client(loop, {{"p", endpoint(s)}});
        HttpRequest req = get(s.url("/v1/models"));
        req.key_slot = 5;
        HttpResult r = send_one(loop, client, req);
        CHECK(r.transport == TransportError::not_sent);
        CHECK(r.transport_message.find("slot 5") != std::string::npos);
        CHECK(r.transport_message.find("key-") == std::string::npos);
        CHECK(auth.hits == 0);
    }
    REQUIRE(loop.close() == 0);
}

TEST_CASE("the key is never sent to another host, directly or after a redirect", "[http]") {
    curl_once();
    TestServer provider, cdn;
    AuthRecorder at_provider, at_cdn;
    cdn.svr.Get("/file", [&](const httplib::Request& req, httplib::Response& res) {
        at_cdn.record(req);
        res.set_content("video bytes", "video/mp4");
    });
    cdn.start();
    provider.svr.Get("/v1/to-cdn", [&](const httplib::Request& req, httplib::Response& res) {
        at_provider.record(req);
        res.set_redirect(cdn.url("/file"));
    });
    provider.svr.Get("/v1/to-cdn-by-name",
                     [&](const httplib::Request& req, httplib::Response& res) {
                         at_provider.record(req);
                         res.set_redirect(cdn.url("/file", "localhost"));
                     });
    provider.svr.Get("/v1/same-host", [&](const httplib::Request& req, httplib::Response& res) {
        at_provider.record(req);
        res.set_redirect("/v1/here");
    });
    provider.svr.Get("/v1/here", [&](const httplib::Request& req, httplib::Response& res) {
        at_provider.record(req);
        res.set_content("here", "text/plain");
    });
    provider.start();
    LoopGuard loop;
    {
        HttpClient client(loop, {{"p", endpoint(provider)}});

        SECTION("a URL on another port of the same address gets no key") {
            HttpResult r = send_one(loop, client, get(cdn.url("/file")));
            CHECK(r.status == 200);
            CHECK(at_cdn.hits == 1);
            CHECK(at_cdn.last == std::nullopt);
        }
        SECTION("a redirect to another port drops the key") {
            HttpResult r = send_one(loop, client, get(provider.url("/v1/to-cdn")));
            CHECK(r.status == 200);
            CHECK(r.body == "video bytes");
            CHECK(at_provider.last == "Bearer key-one");
            CHECK(at_cdn.hits == 1);
            CHECK(at_cdn.last == std::nullopt);
        }
        SECTION("a redirect to another host name drops the key") {
            HttpResult r = send_one(loop, client, get(provider.url("/v1/to-cdn-by-name")));
            CHECK(r.status == 200);
            CHECK(at_provider.last == "Bearer key-one");
            CHECK(at_cdn.hits == 1);
            CHECK(at_cdn.last == std::nullopt);
        }
        SECTION("a redirect on the provider's own host keeps the key") {
            HttpResult r = send_one(loop, client, get(provider.url("/v1/same-host")));
            CHECK(r.body == "here");
            CHECK(at_provider.hits == 2);
            CHECK(at_provider.last == "Bearer key-one");
        }
    }
    REQUIRE(loop.close() == 0);
}

TEST_CASE("a provider's proxy carries its requests, credentials included", "[http]") {
    curl_once();
    TestServer proxy;
    std::string target;
    std::optional<std::string> auth;
    // A plain HTTP proxy receives the absolute URL as the request target.
    proxy.svr.Get(".*", [&](const httplib::Request& req, httplib::Response& res) {
        target = req.target;
        auth = req.get_header_value("Authorization");
        res.set_content("{}", "application/json");
    });
    proxy.start();
    LoopGuard loop;
    {
        vd::ProviderEndpoint e{
            "http://videos.invalid/v1", vd::AuthScheme::bearer, {"sk-1"}, proxy.url("")};
        HttpClient client(loop, {{"p", e}});
        HttpResult r = send_one(loop, client, get("http://videos.invalid/v1/models"));
        CHECK(r.transport == TransportError::none);
        CHECK(r.status == 200);
        CHECK(target == "http://videos.invalid/v1/models");
        CHECK(auth == "Bearer sk-1");
    }
    REQUIRE(loop.close() == 0);
}

TEST_CASE("a download streams a multi-megabyte body to the file byte for byte", "[http]") {
    curl_once();
    TempDir tmp;
    const std::string video = pattern_bytes(6 * 1024 * 1024 + 123);
    TestServer s;
    s.svr.Get("/v1/videos/v1/content", [&](const httplib::Request&, httplib::Response& res) {
        res.set_content(video, "video/mp4");
    });
    s.svr.Get("/v1/redirected", [&](const httplib::Request&, httplib::Response& res) {
        res.set_content("you are being redirected", "text/html");
        res.status = 302;
        res.set_header("Location", "/v1/videos/v1/content");
    });
    s.start();
    LoopGuard loop;
    {
        HttpClient client(loop, {{"p", endpoint(s)}});
        auto dest = tmp.path / "v1.mp4";
        std::ofstream(dest) << "stale content from an earlier attempt";
        std::optional<HttpResult> out;
        int64_t bytes = -1;
        std::string path =
            GENERATE(std::string("/v1/videos/v1/content"), std::string("/v1/redirected"));
        client.download(get(s.url(path)), dest.string(), [&](HttpResult r, int64_t n) {
            out = std::move(r);
            bytes = n;
        });
        REQUIRE(loop.run_until([&] { return out.has_value(); }, 10s));
        CHECK(out->transport == TransportError::none);
        CHECK(out->status == 200);
        CHECK(out->content_type == "video/mp4");
        CHECK(out->body.empty());
        CHECK(bytes == static_cast<int64_t>(video.size()));
        CHECK(read_all(dest) == video);
    }
    REQUIRE(loop.close() == 0);
}

TEST_CASE("a download answered with JSON keeps the answer in the body too", "[http]") {
    curl_once();
    TempDir tmp;
    TestServer s;
    s.svr.Get("/v1/videos/v1/content", [](const httplib::Request&, httplib::Response& res) {
        res.set_content(R"({"url":"https://cdn.example/v1.mp4"})", "application/json");
    });
    s.start();
    LoopGuard loop;
    {
        HttpClient client(loop, {{"p", endpoint(s)}});
        std::optional<HttpResult> out;
        client.download(get(s.url("/v1/videos/v1/content")), (tmp.path / "v1.mp4").string(),
                        [&](HttpResult r, int64_t) { out = std::move(r); });
        REQUIRE(loop.run_until([&] { return out.has_value(); }, 5s));
        CHECK(out->content_type == "application/json");
        CHECK(out->body == R"({"url":"https://cdn.example/v1.mp4"})");
    }
    REQUIRE(loop.close() == 0);
}

TEST_CASE("a body shorter than its Content-Length is an after-send error with the status",
          "[http]") {
    curl_once();
    TempDir tmp;
    RawServer raw(
        "HTTP/1.1 200 OK\r\nContent-Type: video/mp4\r\nContent-Length: 100000\r\n"
        "Connection: close\r\n\r\n" +
        std::string(1000, 'x'));
    LoopGuard loop;
    {
        HttpClient client(loop, {});
        std::optional<HttpResult> out;
        int64_t bytes = -1;
        HttpRequest req = get("http://127.0.0.1:" + std::to_string(raw.port) + "/v.mp4", "");
        req.authenticated = false;
        client.download(req, (tmp.path / "v.mp4").string(), [&](HttpResult r, int64_t n) {
            out = std::move(r);
            bytes = n;
        });
        REQUIRE(loop.run_until([&] { return out.has_value(); }, 5s));
        CHECK(out->transport == TransportError::after_send);
        CHECK_FALSE(out->transport_message.empty());
        CHECK(out->status == 200);
        CHECK(bytes == 1000);
    }
    REQUIRE(loop.close() == 0);
}

TEST_CASE("an empty reply after the request went out is an after-send error", "[http]") {
    curl_once();
    RawServer raw("");
    LoopGuard loop;
    {
        HttpClient client(loop, {});
        HttpRequest req = get("http://127.0.0.1:" + std::to_string(raw.port) + "/v1/videos", "");
        req.authenticated = false;
        req.method = "POST";
        req.body = "{}";
        HttpResult r = send_one(loop, client, req);
        CHECK(r.transport == TransportError::after_send);
        CHECK(r.status == 0);
    }
    REQUIRE(loop.close() == 0);
}

TEST_CASE("a refused connection is a not-sent error", "[http]") {
    curl_once();
    LoopGuard loop;
    {
        HttpClient client(loop, {});
        HttpRequest req = get("http://127.0.0.1:" + std::to_string(closed_port()) + "/", "");
        req.authenticated = false;
        HttpResult r = send_one(loop, client, req);
        CHECK(r.transport == TransportError::not_sent);
        CHECK_FALSE(r.transport_message.empty());
    }
    REQUIRE(loop.close() == 0);
}

TEST_CASE("an API call slower than the total timeout is reported as after-send", "[http]") {
    curl_once();
    TestServer s;
    s.svr.Get("/v1/slow", [](const httplib::Request&, httplib::Response& res) {
        std::this_thread::sleep_for(600ms);
        res.set_content("late", "text/plain");
    });
    s.start();
    LoopGuard loop;
    {
        vd::HttpClientOptions opts;
        opts.api_timeout = 150ms;
        HttpClient client(loop, {{"p", endpoint(s)}}, opts);
        auto started = std::chrono::steady_clock::now();
        HttpResult r = send_one(loop, client, get(s.url("/v1/slow")));
        CHECK(r.transport == TransportError::after_send);
        CHECK(std::chrono::steady_clock::now() - started < 550ms);
    }
    REQUIRE(loop.close() == 0);
}

TEST_CASE("200 concurrent requests all complete", "[http]") {
    curl_once();
    TestServer s;
    s.svr.Get(R"(/v1/videos/(\d+))", [](const httplib::Request& req, httplib::Response& res) {
        res.set_content(req.matches[1].str(), "text/plain");
    });
    s.start();
    LoopGuard loop;
    {
        HttpClient client(loop, {{"p", endpoint(s)}});
        int ok = 0, answered = 0;
        for (int i = 0; i < 200; ++i) {
            client.send(get(s.url("/v1/videos/" + std::to_string(i))), [&, i](HttpResult r) {
                ++answered;
                if (r.status == 200 && r.body == std::to_string(i)) ++ok;
            });
        }
        CHECK(client.active() == 200);
        REQUIRE(loop.run_until([&] { return answered == 200; }, 20s));
        CHECK(ok == 200);
        CHECK(client.active() == 0);
    }
    REQUIRE(loop.close() == 0);
}

TEST_CASE("a cancelled transfer never calls back", "[http]") {
    curl_once();
    TestServer s;
    s.svr.Get("/v1/slow", [](const httplib::Request&, httplib::Response& res) {
        std::this_thread::sleep_for(200ms);
        res.set_content("late", "text/plain");
    });
    s.svr.Get("/v1/fast", [](const httplib::Request&, httplib::Response& res) {
        res.set_content("fast", "text/plain");
    });
    s.start();
    LoopGuard loop;
    {
        HttpClient client(loop, {{"p", endpoint(s)}});
        bool slow_called = false, early_called = false;
        auto id = client.send(get(s.url("/v1/slow")), [&](HttpResult) { slow_called = true; });
        auto early = client.send(get(s.url("/v1/x"), "unknown-provider"),
                                 [&](HttpResult) { early_called = true; });
        client.cancel(early);  // failed before sending, its report not yet delivered
        loop.run_for(20ms);
        client.cancel(id);
        client.cancel(12345);  // unknown ids are ignored
        CHECK(client.active() == 0);
        // The client keeps working after a cancel.
        CHECK(send_one(loop, client, get(s.url("/v1/fast"))).body == "fast");
        loop.run_for(300ms);
        CHECK_FALSE(slow_called);
        CHECK_FALSE(early_called);
    }
    REQUIRE(loop.close() == 0);
}

TEST_CASE("callbacks may send, cancel and shut down from inside a callback", "[http]") {
    curl_once();
    TestServer s;
    s.svr.Get(R"(/v1/(\w+))", [](const httplib::Request& req, httplib::Response& res) {
        res.set_content(req.matches[1].str(), "text/plain");
    });
    s.start();
    LoopGuard loop;
    {
        HttpClient client(loop, {{"p", endpoint(s)}});
        std::vector<std::string> seen;
        client.send(get(s.url("/v1/first")), [&](HttpResult r) {
            seen.push_back(r.body);
            client.send(get(s.url("/v1/second")), [&](HttpResult r2) {
                seen.push_back(r2.body);
                client.shutdown();
            });
        });
        REQUIRE(loop.run_until([&] { return seen.size() == 2; }, 5s));
        CHECK(seen == std::vector<std::string>{"first", "second"});
        CHECK(client.active() == 0);
    }
    REQUIRE(loop.close() == 0);
}

TEST_CASE("shutdown with transfers in flight leaves a loop that closes cleanly", "[http]") {
    curl_once();
    TempDir tmp;
    TestServer s;
    s.svr.Get("/v1/slow", [](const httplib::Request&, httplib::Response& res) {
        std::this_thread::sleep_for(300ms);
        res.set_content("late", "text/plain");
    });
    s.start();
    LoopGuard loop;
    int called = 0;
    {
        HttpClient client(loop, {{"p", endpoint(s)}});
        for (int i = 0; i < 5; ++i)
            client.send(get(s.url("/v1/slow")), [&](HttpResult) { ++called; });
        client.download(get(s.url("/v1/slow")), (tmp.path / "x").string(),
                        [&](HttpResult, int64_t) { ++called; });
        loop.run_for(50ms);
        CHECK(client.active() == 6);
        client.shutdown();
        client.shutdown();
        CHECK(client.active() == 0);
        CHECK(client.send(get(s.url("/v1/slow")), [&](HttpResult) { ++called; }) == 0);
    }
    CHECK(called == 0);
    REQUIRE(loop.close() == 0);
}

TEST_CASE("the client's destructor alone leaves a loop that closes cleanly", "[http]") {
    curl_once();
    TestServer s;
    s.svr.Get("/v1/ok", [](const httplib::Request&, httplib::Response& res) {
        res.set_content("ok", "text/plain");
    });
    s.start();
    LoopGuard loop;
    {
        HttpClient client(loop, {{"p", endpoint(s)}});
        // A finished transfer leaves a kept-alive connection behind in curl's cache.
        CHECK(send_one(loop, client, get(s.url("/v1/ok"))).body == "ok");
        client.send(get(s.url("/v1/ok")), [](HttpResult) {});
    }
    REQUIRE(loop.close() == 0);
}
