// Inside of vd::mock::Server, shared by its lifecycle (server.cc) and its endpoints (endpoints.cc).
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "mock/body.hpp"
#include "mock/faults.hpp"
#include "mock/http_server.hpp"
#include "mock/media_cache.hpp"
#include "mock/mock.hpp"
#include "mock/recorder.hpp"
#include "mock/store.hpp"
#include "mock/video.hpp"

namespace vd::mock {

// One request on its way through the mock.
struct Call {
    const httplib::Request& req;
    httplib::Response& res;
    std::shared_ptr<const Options> options;  // as they were when the request came in
    int64_t now_ms = 0;
    std::string key;
    Body body;
    RecordedRequest rec;
};

struct Server::Impl {
    explicit Impl(Options o);

    std::shared_ptr<const Options> options() const;
    void add_routes(HttpServer& http);
    // Common path of every request: id, log, faults, auth; then the endpoint.
    void serve(const httplib::Request& req, httplib::Response& res, void (Impl::*endpoint)(Call&));
    // Waits `d` unless the server stops first.
    void pause(Millis d);

    // Endpoints (endpoints.cc).
    void create(Call& c);
    void remix(Call& c);
    void retrieve(Call& c);
    void list(Call& c);
    void remove(Call& c);
    void content(Call& c);
    void file(Call& c);  // a signed storage link: no key
    void list_models(Call& c);
    void get_model(Call& c);
    void unknown(Call& c);
    void chat(Call& c);  // POST /v1/chat/completions (chat.cpp)

    // A new video from an accepted create or remix, answered (or its answer lost on purpose).
    void answer_created(Call& c, Video v);
    Wire wire(const Call& c) const;
    // The video's MP4 (or a variant), with the download faults.
    void send_media(Call& c, const Video& v, const std::string& variant);

    mutable std::mutex options_mu;
    std::shared_ptr<const Options> opts;
    Dice faults;  // seeded: the same requests meet the same faults
    Dice ids;     // not seeded: ids stay unique across restarts of the mock
    RateLimiter limiter;
    VideoStore store;
    MediaCache media;
    std::shared_ptr<const std::string> video_file;  // Options::video_file's bytes, when set
    Recorder recorder;

    std::unique_ptr<HttpServer> http;
    std::thread thread;
    int port = -1;
    std::mutex stop_mu;
    std::condition_variable stop_cv;
    bool stopping = false;
};

int64_t wall_ms();
// The uploads of the body into the request log: file parts, and images sent as data: URLs.
void record_files(Call& c);
void send_json(httplib::Response& res, int status, const nlohmann::json& body);
void send_error(httplib::Response& res, const ApiError& e);

}  // namespace vd::mock
