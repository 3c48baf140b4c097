// vd::mock::Server: start, stop, options, and the path every request takes (request id, log,
// faults, auth) before its endpoint (endpoints.cpp).
#include <strings.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>

#include "mock/digest.hpp"
#include "mock/image.hpp"
#include "mock/server_impl.hpp"
#include "mock/validate.hpp"

namespace vd::mock {
namespace {

std::string bearer_key(const httplib::Request& req) {
    auto auth = req.get_header_value("Authorization");
    if (auth.size() < 7 || strncasecmp(auth.c_str(), "Bearer ", 7) != 0) return {};
    auto key = auth.substr(7);
    while (!key.empty() && key.front() == ' ')
        key.erase(key.begin());
    while (!key.empty() && key.back() == ' ')
        key.pop_back();
    return key;
}

std::string query_of(const std::string& target) {
    auto q = target.find('?');
    return q == std::string::npos ? std::string() : target.substr(q + 1);
}

ApiError server_error(int which) {
    switch (which) {
        case 0:
            return {500, "server_error", "internal_error", "",
                    "The server had an error while processing your request. Sorry about that!"};
        case 1:
            return {502, "server_error", "bad_gateway", "", "Bad gateway."};
        default:
            return {
                503, "server_error", "processing_error", "",
                "The engine is currently overloaded (under heavy load), please try again later."};
    }
}

Options with_defaults(Options o) {
    if (o.models.empty()) o.models = default_models();
    for (auto& [name, spec] : o.models)
        spec.name = name;
    return o;
}

}  // namespace

int64_t wall_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

void send_json(httplib::Response& res, int status, const nlohmann::json& body) {
    res.status = status;
    // `replace`: a prompt that is not UTF-8 must not turn the answer into an exception.
    res.set_content(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                    "application/json");
}

void send_error(httplib::Response& res, const ApiError& e) {
    send_json(res, e.status, to_json(e));
}

Server::Impl::Impl(Options o)
    : opts(std::make_shared<const Options>(with_defaults(std::move(o)))),
      faults(opts->seed),
      ids(std::random_device{}()),
      recorder(opts->max_records) {}

std::shared_ptr<const Options> Server::Impl::options() const {
    std::lock_guard lock(options_mu);
    return opts;
}

void Server::Impl::pause(Millis d) {
    std::unique_lock lock(stop_mu);
    stop_cv.wait_for(lock, d, [this] { return stopping; });
}

void record_files(Call& c) {
    c.rec.files.clear();
    for (const auto& [name, up] : c.body.files) {
        auto info = sniff_image(up.bytes);
        c.rec.files.push_back({name, sha256_hex(up.bytes), info.width, info.height, info.kind,
                               static_cast<int64_t>(up.bytes.size())});
    }
}

void Server::Impl::serve(const httplib::Request& req, httplib::Response& res,
                         void (Impl::*endpoint)(Call&)) {
    Call c{req, res, options(), wall_ms(), {}, {}, {}};
    c.rec.method = req.method;
    c.rec.path = req.path;
    c.rec.query = query_of(req.target);
    c.rec.at_ms = c.now_ms;
    c.rec.at_us = std::chrono::duration_cast<std::chrono::microseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
    c.rec.request_id = "req_" + ids.hex(32);
    res.set_header("x-request-id", c.rec.request_id);
    c.key = bearer_key(req);
    c.rec.key_hash = key_hash(c.key);
    if (req.method == "POST") {
        c.body = parse_body(req);
        c.rec.fields = loggable_fields(c.body.fields);
        record_files(c);
    }
    const Options& o = *c.options;
    if (o.slow.count() > 0) pause(o.slow);
    if (faults.roll(o.reset_rate)) {
        HttpServer::drop_current(Drop::reset);
        c.rec.lost = true;
        c.rec.fault = "reset";
    } else if (faults.roll(o.fail_rate)) {
        send_error(res, server_error(faults.pick(3)));
        c.rec.fault = "5xx";
    } else if (endpoint != &Impl::file &&
               (c.key.empty() || (!o.keys.empty() && std::find(o.keys.begin(), o.keys.end(),
                                                               c.key) == o.keys.end()))) {
        send_error(res, {401, "invalid_request_error", "invalid_api_key", "",
                         c.key.empty() ? "You didn't provide an API key: send it in the "
                                         "Authorization header as 'Bearer KEY'."
                                       : "Incorrect API key provided."});
    } else {
        (this->*endpoint)(c);
    }
    c.rec.status = c.rec.lost && res.status < 0 ? 0 : res.status;
    recorder.add(std::move(c.rec));
}

void Server::Impl::add_routes(HttpServer& h) {
    auto route = [this](void (Impl::*ep)(Call&)) {
        return [this, ep](const httplib::Request& req, httplib::Response& res) {
            serve(req, res, ep);
        };
    };
    // The dialect decides which paths exist (mock/dialect.hpp): the reference ones, or with
    // generations-jobs only its own; openrouter has no list and no remix. With base64 ids an id
    // whose '/' was not percent-encoded splits the path, and so finds nothing.
    enum Paths { reference, jobs, reference_no_openrouter };
    auto in = [this](Paths paths, void (Impl::*ep)(Call&)) {
        return [this, paths, ep](const httplib::Request& req, httplib::Response& res) {
            Dialect d = dialect_of(options()->dialect);
            bool open = paths == jobs ? d.jobs_paths
                                      : !d.jobs_paths && !(paths != reference && d.openrouter);
            if (open && d.base64_ids && req.matches.size() > 1) {
                std::string raw = req.target.substr(0, req.target.find('?'));
                open = raw.find(req.matches[1].str()) == std::string::npos;
            }
            serve(req, res, open ? ep : &Impl::unknown);
        };
    };
    const std::string id = "(.+)";
    h.Post("/v1/videos/generations", in(jobs, &Impl::create));
    h.Get("/v1/jobs", in(jobs, &Impl::list));
    h.Get("/v1/jobs/" + id + "/content", in(jobs, &Impl::content));
    h.Post("/v1/jobs/" + id + "/remix", in(jobs, &Impl::remix));
    h.Get("/v1/jobs/" + id, in(jobs, &Impl::retrieve));
    h.Delete("/v1/jobs/" + id, in(jobs, &Impl::remove));
    h.Post("/v1/videos", in(reference, &Impl::create));
    h.Get("/v1/videos", in(reference_no_openrouter, &Impl::list));
    h.Get("/v1/videos/" + id + "/content", in(reference, &Impl::content));
    h.Post("/v1/videos/" + id + "/remix", in(reference_no_openrouter, &Impl::remix));
    h.Get("/v1/videos/" + id, in(reference, &Impl::retrieve));
    h.Delete("/v1/videos/" + id, in(reference, &Impl::remove));
    h.Get("/v1/files/" + id + "\\.mp4", route(&Impl::file));
    h.Post("/v1/chat/completions", route(&Impl::chat));
    h.Get("/v1/models", route(&Impl::list_models));
    h.Get("/v1/models/" + id, route(&Impl::get_model));
    h.Get(".*", route(&Impl::unknown));
    h.Post(".*", route(&Impl::unknown));
    h.Delete(".*", route(&Impl::unknown));
    h.Put(".*", route(&Impl::unknown));
    h.Patch(".*", route(&Impl::unknown));
}

Server::Server(Options options) : impl_(std::make_unique<Impl>(std::move(options))) {}

Server::~Server() {
    stop();
}

int Server::start() {
    Impl& m = *impl_;
    if (m.http) return m.port;
    auto o = m.options();
    if (!m.recorder.open(o->log_file)) return -1;
    if (!o->video_file.empty()) {
        std::ifstream in(o->video_file, std::ios::binary);
        if (!in) return -1;
        m.video_file = std::make_shared<const std::string>(std::istreambuf_iterator<char>(in),
                                                           std::istreambuf_iterator<char>());
    }
    auto http = std::make_unique<HttpServer>();
    int threads = std::max(2, o->threads);
    http->new_task_queue = [threads] {
        return new httplib::ThreadPool(static_cast<size_t>(threads));
    };
    http->set_keep_alive_max_count(100000);
    http->set_payload_max_length(size_t{64} << 20);
    m.add_routes(*http);
    // Debian's compiled cpp-httplib listens with a backlog of 5: a burst of new connections
    // beyond that has its SYNs dropped and retried a second later, which would make the mock
    // the slow part of every test and benchmark. Keep the socket, and raise the backlog after
    // bind (listen() again on a listening socket only changes its backlog).
    int listen_fd = -1;
    http->set_socket_options([&listen_fd](socket_t fd) {
        int yes = 1;
        ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
        listen_fd = fd;
    });
    int port = o->port == 0 ? http->bind_to_any_port(o->host)
                            : (http->bind_to_port(o->host, o->port) ? o->port : -1);
    if (port <= 0) return -1;
    if (listen_fd >= 0) ::listen(listen_fd, SOMAXCONN);
    {
        std::lock_guard lock(m.stop_mu);
        m.stopping = false;
    }
    auto done = std::make_shared<std::atomic<bool>>(false);
    m.thread = std::thread([h = http.get(), done] {
        h->listen_after_bind();
        *done = true;
    });
    // stop() is a no-op until the server runs, so don't hand out a server that isn't yet.
    while (!http->is_running() && !*done)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    m.http = std::move(http);
    m.port = port;
    return port;
}

void Server::stop() {
    Impl& m = *impl_;
    if (!m.http) return;
    {
        std::lock_guard lock(m.stop_mu);
        m.stopping = true;
    }
    m.stop_cv.notify_all();
    m.http->stop();
    m.thread.join();
    m.http.reset();
}

int Server::port() const {
    return impl_->port;
}

std::string Server::base_url() const {
    auto host = impl_->options()->host;
    if (host == "0.0.0.0" || host.empty()) host = "127.0.0.1";
    if (host == "::") host = "::1";
    if (host.find(':') != std::string::npos) host = "[" + host + "]";
    return "http://" + host + ":" + std::to_string(impl_->port) + "/v1";
}

void Server::update(const std::function<void(Options&)>& change) {
    Impl& m = *impl_;
    std::string log_file;
    {
        std::lock_guard lock(m.options_mu);
        Options copy = *m.opts;
        change(copy);
        m.opts = std::make_shared<const Options>(with_defaults(std::move(copy)));
        log_file = m.opts->log_file;
    }
    if (m.http) m.recorder.open(log_file);
}

std::vector<RecordedRequest> Server::requests() const {
    return impl_->recorder.all();
}

size_t Server::videos_created() const {
    return impl_->store.created();
}

}  // namespace vd::mock
