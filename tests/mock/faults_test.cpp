#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include <catch2/catch.hpp>

#include "tests/mock/fixture.hpp"

using namespace vd;
using namespace vd::mock;
using namespace vd::mock::test;
using nlohmann::json;

namespace {

const json kTiny = {
    {"model", "tiny"}, {"prompt", "a red fox"}, {"seconds", "1"}, {"size", "160x90"}};

struct RawReply {
    std::string bytes;
    int error = 0;  // errno of the failed read, 0 when the server closed cleanly
};

// Sends one request on a fresh socket and reads until the server closes: shows exactly how the
// connection ended (clean close or reset), which an HTTP client library would hide.
RawReply raw_exchange(int port, const std::string& request) {
    RawReply reply;
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
            static_cast<ssize_t>(request.size()));
    char buf[4096];
    for (;;) {
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n > 0) {
            reply.bytes.append(buf, static_cast<size_t>(n));
            continue;
        }
        if (n < 0) reply.error = errno;
        break;
    }
    ::close(fd);
    return reply;
}

std::string raw_create(const json& body) {
    auto text = body.dump();
    return "POST /v1/videos HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer sk-test\r\n"
           "Content-Type: application/json\r\nContent-Length: " +
           std::to_string(text.size()) + "\r\nConnection: close\r\n\r\n" + text;
}

}  // namespace

TEST_CASE("creates above the RPM get 429 with retry-after and retry-after-ms", "[mock][faults]") {
    auto o = tiny_options();
    o.keys = {"sk-test", "sk-other"};
    o.rpm = 2;
    RunningMock mock(o);
    auto c = mock.client();
    auto bad = kTiny;
    bad["seconds"] = "7";
    CHECK(create_json(c, bad)->status == 400);  // a rejected create does not use up the limit
    CHECK(create_json(c, kTiny)->status == 200);
    CHECK(create_json(c, kTiny)->status == 200);
    auto r = create_json(c, kTiny);
    REQUIRE(r);
    CHECK(r->status == 429);
    CHECK(body_json(r)["error"]["code"] == "rate_limit_exceeded");
    int after = std::stoi(r->get_header_value("retry-after"));
    long after_ms = std::stol(r->get_header_value("retry-after-ms"));
    CHECK(after >= 1);
    CHECK(after <= 60);
    CHECK(after_ms > 0);
    CHECK(after_ms <= 60000);
    CHECK((after_ms + 999) / 1000 == after);
    CHECK(c.Get("/v1/models")->status == 200);  // only creates are limited
    auto other = mock.client("sk-other");
    CHECK(create_json(other, kTiny)->status == 200);  // the limit is per key
    CHECK(mock.server->videos_created() == 3);
}

TEST_CASE("fail_rate answers 5xx with an error body and creates nothing", "[mock][faults]") {
    auto o = tiny_options();
    o.fail_rate = 1;
    RunningMock mock(o);
    auto c = mock.client();
    for (int i = 0; i < 5; ++i) {
        auto r = create_json(c, kTiny);
        REQUIRE(r);
        CHECK(r->status >= 500);
        CHECK(r->status <= 503);
        CHECK(body_json(r)["error"]["type"] == "server_error");
        CHECK_FALSE(r->get_header_value("x-request-id").empty());
    }
    CHECK(mock.server->videos_created() == 0);
}

TEST_CASE("reset_rate resets the connection without a byte of answer", "[mock][faults]") {
    auto o = tiny_options();
    o.reset_rate = 1;
    RunningMock mock(o);
    auto reply = raw_exchange(mock.server->port(), raw_create(kTiny));
    CHECK(reply.bytes.empty());
    CHECK(reply.error == ECONNRESET);
    CHECK(mock.server->videos_created() == 0);
    auto c = mock.client();
    CHECK_FALSE(c.Get("/v1/models"));
    auto log = mock.server->requests();
    REQUIRE(log.size() == 2);
    CHECK(log[0].lost);
    CHECK(log[0].status == 0);
    CHECK(log[0].fields["prompt"] == "a red fox");
}

TEST_CASE("lost_rate creates the video, then closes the connection without an answer",
          "[mock][faults]") {
    auto o = tiny_options();
    o.lost_rate = 1;
    RunningMock mock(o);
    auto body = kTiny;
    body["prompt"] = "paid for but never answered";
    auto reply = raw_exchange(mock.server->port(), raw_create(body));
    CHECK(reply.bytes.empty());  // curl calls this "Empty reply from server"
    CHECK(reply.error == 0);
    auto c = mock.client();
    CHECK_FALSE(create_json(c, kTiny));  // an HTTP client sees an error too
    mock.server->update([](Options& opt) { opt.lost_rate = 0; });
    auto list = body_json(c.Get("/v1/videos?order=asc"));
    REQUIRE(list["data"].size() == 2);
    CHECK(list["data"][0]["prompt"] == "paid for but never answered");
    CHECK(mock.server->videos_created() == 2);
    auto log = mock.server->requests();
    REQUIRE(log.size() >= 2);
    CHECK(log[0].lost);
    CHECK(log[0].video_id == list["data"][0]["id"]);
}

TEST_CASE("truncate_rate cuts the content at half under the full Content-Length",
          "[mock][faults]") {
    auto o = tiny_options();
    o.truncate_rate = 1;
    RunningMock mock(o);
    auto c = mock.client();
    std::string id = body_json(create_json(c, kTiny))["id"];
    size_t declared = 0;
    std::string got;
    auto r = c.Get(
        "/v1/videos/" + id + "/content", httplib::Headers{},
        [&](const httplib::Response& res) {
            declared = std::stoul(res.get_header_value("Content-Length"));
            return true;
        },
        [&](const char* data, size_t n) {
            got.append(data, n);
            return true;
        });
    CHECK_FALSE(r);
    REQUIRE(declared > 0);
    CHECK(got.size() == declared / 2);
}

TEST_CASE("corrupt_rate flips bytes mid-file and keeps the length", "[mock][faults]") {
    RunningMock mock;
    auto c = mock.client();
    std::string id = body_json(create_json(c, kTiny))["id"];
    auto clean = c.Get("/v1/videos/" + id + "/content");
    REQUIRE(clean);
    mock.server->update([](Options& opt) { opt.corrupt_rate = 1; });
    auto bad = c.Get("/v1/videos/" + id + "/content");
    REQUIRE(bad);
    CHECK(bad->status == 200);
    REQUIRE(bad->body.size() == clean->body.size());
    CHECK(bad->body != clean->body);
    CHECK(bad->body.substr(0, 64) == clean->body.substr(0, 64));
}

TEST_CASE("slow delays every answer by at least the given time", "[mock][faults]") {
    auto o = tiny_options();
    o.slow = Millis{150};
    RunningMock mock(o);
    auto c = mock.client();
    auto t0 = std::chrono::steady_clock::now();
    CHECK(c.Get("/v1/models")->status == 200);
    CHECK(std::chrono::steady_clock::now() - t0 >= std::chrono::milliseconds(150));
}

TEST_CASE("processing-url dialect says processing and links the content when completed",
          "[mock][faults][dialect]") {
    auto o = tiny_options();
    o.dialect = "processing-url";
    o.gen_time = Millis{150};
    RunningMock mock(o);
    auto c = mock.client();
    std::string id = body_json(create_json(c, kTiny))["id"];
    auto running = body_json(c.Get("/v1/videos/" + id));
    CHECK(running["status"] == "processing");
    CHECK_FALSE(running.contains("url"));
    auto done = wait_final(c, id);
    CHECK(done["status"] == "completed");
    std::string prefix = "http://127.0.0.1:" + std::to_string(mock.server->port());
    CHECK(done["url"] == prefix + "/v1/videos/" + id + "/content");
    auto r = c.Get(done["url"].get<std::string>().substr(prefix.size()));
    REQUIRE(r);
    CHECK(r->get_header_value("Content-Type") == "video/mp4");
}

TEST_CASE("the same seed injects the same faults for the same requests", "[mock][faults]") {
    auto statuses = [](uint64_t seed) {
        auto o = tiny_options();
        o.fail_rate = 0.5;
        o.seed = seed;
        RunningMock mock(o);
        auto c = mock.client();
        std::vector<int> out;
        for (int i = 0; i < 24; ++i)
            out.push_back(c.Get("/v1/models")->status);
        return out;
    };
    auto a = statuses(7);
    CHECK(a == statuses(7));
    CHECK(a != statuses(8));
    CHECK(std::count(a.begin(), a.end(), 200) > 0);
    CHECK(std::count(a.begin(), a.end(), 200) < 24);
}

TEST_CASE("request log is kept in memory and written as JSON lines without keys", "[mock][log]") {
    auto path = std::filesystem::temp_directory_path() /
                ("vd-mock-log-" + std::to_string(::getpid()) + ".jsonl");
    std::filesystem::remove(path);
    auto o = tiny_options();
    o.log_file = path.string();
    {
        RunningMock mock(o);
        auto c = mock.client();
        std::string id = body_json(create_json(c, kTiny))["id"];
        c.Get("/v1/videos/" + id + "?x=1");
        auto log = mock.server->requests();
        REQUIRE(log.size() == 2);
        CHECK(log[0].method == "POST");
        CHECK(log[0].path == "/v1/videos");
        CHECK(log[0].status == 200);
        CHECK(log[0].video_id == id);
        CHECK(log[0].fields["model"] == "tiny");
        CHECK(log[1].method == "GET");
        CHECK(log[1].query == "x=1");
        CHECK(log[1].video_id == id);
        CHECK(log[1].at_ms >= log[0].at_ms);
        CHECK(log[0].request_id != log[1].request_id);
    }
    std::ifstream in(path);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    CHECK(text.find("sk-test") == std::string::npos);
    std::vector<json> lines;
    std::istringstream stream(text);
    for (std::string line; std::getline(stream, line);)
        lines.push_back(json::parse(line));
    REQUIRE(lines.size() == 2);
    CHECK(lines[0]["fields"]["prompt"] == "a red fox");
    CHECK(lines[0]["key_hash"].get<std::string>().size() == 12);
    CHECK(lines[1]["status"] == 200);
    std::filesystem::remove(path);
}
