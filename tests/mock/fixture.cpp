#include "tests/mock/fixture.hpp"

#include <chrono>
#include <thread>

#include <catch2/catch.hpp>

namespace vd::mock::test {

Options tiny_options() {
    Options o;
    o.keys = {"sk-test"};
    o.queue_time = Millis{0};
    o.gen_time = Millis{0};
    o.models = {{"tiny", {"tiny", {1, 2}, {"160x90", "90x160"}, 0.01}}};
    o.threads = 8;
    return o;
}

RunningMock::RunningMock(Options o) : server(std::make_unique<Server>(std::move(o))) {
    REQUIRE(server->start() > 0);
}

httplib::Client RunningMock::client(const std::string& key) const {
    httplib::Client c("127.0.0.1", server->port());
    if (!key.empty()) c.set_bearer_token_auth(key);
    c.set_read_timeout(10, 0);
    return c;
}

nlohmann::json body_json(const httplib::Result& r) {
    REQUIRE(r);
    return nlohmann::json::parse(r->body);
}

httplib::Result create_json(httplib::Client& c, const nlohmann::json& body) {
    return c.Post("/v1/videos", body.dump(), "application/json");
}

nlohmann::json wait_final(httplib::Client& c, const std::string& id) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    for (;;) {
        auto v = body_json(c.Get("/v1/videos/" + id));
        if (v["status"] == "completed" || v["status"] == "failed") return v;
        REQUIRE(std::chrono::steady_clock::now() < deadline);
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
}

}  // namespace vd::mock::test
