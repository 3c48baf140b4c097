// Test helpers: an in-process mock with a tiny model (fast renders) and a plain HTTP client.
#pragma once

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "mock/http_lib.hpp"
#include "mock/mock.hpp"

namespace vd::mock::test {

// Model "tiny": 1 or 2 seconds at 160x90 or 90x160; key "sk-test"; videos complete at once.
Options tiny_options();

struct RunningMock {
    explicit RunningMock(Options o = tiny_options());
    httplib::Client client(const std::string& key = "sk-test") const;
    std::unique_ptr<Server> server;
};

nlohmann::json body_json(const httplib::Result& r);
// POST /v1/videos with a JSON body.
httplib::Result create_json(httplib::Client& c, const nlohmann::json& body);
// Polls GET /v1/videos/{id} until the status is final; returns the last object.
nlohmann::json wait_final(httplib::Client& c, const std::string& id);

}  // namespace vd::mock::test
