// A hostile provider and hostile neighbours, each produced the real way: a symlink planted in
// the outbox, a server that quotes the key back, a body of gigabytes, a trickle, a Retry-After of
// 31 years, a writer that pauses with the manifest half written.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include <httplib.h>
#include <spdlog/sinks/ostream_sink.h>

#include "daemon/fsutil.hpp"
#include "tests/daemon/daemon_fixtures.hpp"

namespace vd {
namespace {

using namespace std::chrono_literals;
namespace stdfs = std::filesystem;
using nlohmann::json;

const std::string kKey = "sk-hostile-secret-0123456789";

// Everything the daemon logs while it lives.
struct LogCapture {
    std::ostringstream text;
    std::shared_ptr<spdlog::logger> old = spdlog::default_logger();
    LogCapture() {
        auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(text);
        auto logger = std::make_shared<spdlog::logger>("capture", sink);
        spdlog::set_default_logger(logger);
        spdlog::set_level(spdlog::level::debug);
    }
    ~LogCapture() { spdlog::set_default_logger(old); }
};

RunSummary run_once(const Spool& s, const std::string& base_url, const Tuning& t = {}) {
    DaemonSetup setup;
    setup.config = config_for(s, base_url, t);
    setup.keys["mock"] = {kKey};
    setup.mode = RunMode::drain;
    setup.seed = 7;
    RunSummary summary;
    run_daemon(std::move(setup), &summary);
    return summary;
}

std::string slurp(const stdfs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

// Every file under `dir` whose bytes contain `needle`.
std::vector<std::string> files_containing(const stdfs::path& dir, const std::string& needle) {
    std::vector<std::string> out;
    for (const auto& e : stdfs::recursive_directory_iterator(dir))
        if (e.is_regular_file() && slurp(e.path()).find(needle) != std::string::npos)
            out.push_back(e.path().string());
    return out;
}

// A provider in front of the mock: each route may be replaced by a hostile one; the rest are
// passed through to the real mock.
struct Front {
    mock::Server mock{[] {
        auto o = mock_options();
        o.keys = {kKey};
        return o;
    }()};
    httplib::Server svr;
    std::thread thread;
    int port = 0;
    std::function<bool(const httplib::Request&, httplib::Response&)> on_create;  // true: handled
    std::function<void(const httplib::Request&, httplib::Response&)> on_content;

    Front() = default;
    void start() {
        mock.start();
        svr.new_task_queue = [] { return new httplib::ThreadPool(16); };
        svr.Post("/v1/videos", [this](const httplib::Request& req, httplib::Response& res) {
            if (on_create && on_create(req, res)) return;
            pass(req, res);
        });
        svr.Get(R"(/v1/videos/([^/]+)/content)",
                [this](const httplib::Request& req, httplib::Response& res) {
                    if (on_content) return on_content(req, res);
                    pass(req, res);
                });
        svr.Get(R"(/v1/.*)",
                [this](const httplib::Request& req, httplib::Response& res) { pass(req, res); });
        port = svr.bind_to_any_port("127.0.0.1");
        REQUIRE(port > 0);
        thread = std::thread([this] { svr.listen_after_bind(); });
        while (!svr.is_running())
            std::this_thread::sleep_for(1ms);
    }
    ~Front() {
        svr.stop();
        if (thread.joinable()) thread.join();
    }
    std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port) + "/v1"; }

    void pass(const httplib::Request& req, httplib::Response& res) {
        httplib::Client c("127.0.0.1", mock.port());
        httplib::Headers h;
        for (const auto& [k, v] : req.headers)
            if (k == "Authorization") h.emplace(k, v);
        auto path = req.target;
        auto send = [&] {
            if (req.method != "POST") return c.Get(path, h);
            if (!req.is_multipart_form_data())
                return c.Post(path, h, req.body, req.get_header_value("Content-Type"));
            httplib::MultipartFormDataItems items;  // httplib parsed the parts out of the body
            for (const auto& [name, f] : req.files)
                items.push_back({f.name, f.content, f.filename, f.content_type});
            return c.Post(path, h, items);
        };
        auto r = send();
        if (!r) {
            res.status = 502;
            return;
        }
        res.status = r->status;
        if (r->status >= 400) FAIL_CHECK("mock said " << r->status << ": " << r->body);
        res.set_content(r->body, r->get_header_value("Content-Type"));
    }
};

TEST_CASE("a symlink planted in outbox/.tmp is never followed or published", "[hostile]") {
    mock::Server server(mock_options());
    server.start();
    Spool s;
    const stdfs::path victim = s.root / "victim.txt";
    std::ofstream(victim) << "precious";
    // The names of the first version were SEQ-STEM: plant every one a first job could use, in a
    // .tmp folder the attacker made.
    stdfs::create_directories(s.outbox() / ".tmp");
    for (const char* v : {"1-sym.video.mp4", "1-sym.sidecar.json", "1-sym.sidecar.json.tmp"})
        stdfs::create_symlink(victim, s.outbox() / ".tmp" / v);
    s.drop("sym.json", R"({"prompt": "a cat"})");
    auto summary = drain(s, server.base_url(), "sk-test");
    CHECK(summary.delivered == 1);
    CHECK(slurp(victim) == "precious");
    REQUIRE(stdfs::exists(s.outbox() / "sym.mp4"));
    CHECK(stdfs::is_regular_file(stdfs::symlink_status(s.outbox() / "sym.mp4")));
    CHECK(stdfs::is_regular_file(stdfs::symlink_status(s.outbox() / "sym.json")));
    require_good_video(s.outbox() / "sym.mp4", Size{160, 90}, 1);
    // The folder where files are made is ours alone now.
    struct stat st {};
    REQUIRE(::lstat((s.outbox() / ".tmp").c_str(), &st) == 0);
    CHECK(S_ISDIR(st.st_mode));
    CHECK((st.st_mode & 07777) == 0700);
}

TEST_CASE("an outbox/.tmp replaced by a symlink to another folder is not written through",
          "[hostile]") {
    mock::Server server(mock_options());
    server.start();
    Spool s;
    const stdfs::path elsewhere = s.root / "elsewhere";
    stdfs::create_directories(elsewhere);
    stdfs::create_symlink(elsewhere, s.outbox() / ".tmp");
    s.drop("cat.json", R"({"prompt": "a cat"})");
    auto summary = drain(s, server.base_url(), "sk-test");
    CHECK(summary.delivered == 1);
    CHECK(stdfs::is_empty(elsewhere));
    CHECK(stdfs::is_directory(stdfs::symlink_status(s.outbox() / ".tmp")));
    require_good_video(s.outbox() / "cat.mp4", Size{160, 90}, 1);
}

TEST_CASE("a key quoted back by the provider reaches no file and no log line", "[hostile]") {
    Front front;
    std::atomic<int> creates{0};
    front.on_create = [&](const httplib::Request& req, httplib::Response& res) {
        ++creates;
        std::string auth = req.get_header_value("Authorization");
        json err = {{"error",
                     {{"code", "invalid_request"},
                      {"message", "Bad request; you sent header 'Authorization: " + auth + "'"}}}};
        res.status = 400;
        res.set_header("X-Echo", auth);
        res.set_content(err.dump(), "application/json");
        return true;
    };
    front.start();
    Spool s;
    s.drop("leak.json", R"({"prompt": "a cat"})");
    LogCapture logs;
    auto summary = run_once(s, front.base_url());
    CHECK(creates == 1);
    CHECK(summary.failed == 1);
    const auto error = read_json(s.failed() / "leak.error.json");
    INFO(error.dump(2));
    CHECK_THAT(error["error"]["message"].get<std::string>(),
               Catch::Contains("Authorization: Bearer [key]"));
    CHECK(files_containing(s.root, kKey).empty());
    CHECK_THAT(logs.text.str(), Catch::Contains("[key]"));
    CHECK_THAT(logs.text.str(), !Catch::Contains(kKey));
}

TEST_CASE("a key quoted in a 401 stays out of the log and the job records", "[hostile]") {
    Front front;
    std::atomic<int> creates{0};
    front.on_create = [&](const httplib::Request& req, httplib::Response& res) {
        ++creates;
        json err = {{"error",
                     {{"code", "invalid_api_key"},
                      {"message", "Incorrect API key provided: " +
                                      req.get_header_value("Authorization").substr(7)}}}};
        res.status = 401;
        res.set_content(err.dump(), "application/json");
        return true;
    };
    front.start();
    Spool s;
    s.drop("cat.json", R"({"prompt": "a cat"})");
    LogCapture logs;
    // The key is paused; `once` leaves the job waiting for new credentials.
    auto summary = run_once(s, front.base_url());
    CHECK(creates == 1);
    CHECK(summary.paused == 1);
    CHECK_THAT(logs.text.str(), Catch::Contains("Incorrect API key provided: [key]"));
    CHECK_THAT(logs.text.str(), !Catch::Contains(kKey));
    CHECK(files_containing(s.root, kKey).empty());
}

TEST_CASE("a body of gigabytes is cut off at the job's byte limit", "[hostile]") {
    Front front;
    std::atomic<int64_t> sent{0};
    std::atomic<int> fetches{0};
    const bool chunked = GENERATE(false, true);
    front.on_content = [&](const httplib::Request&, httplib::Response& res) {
        ++fetches;
        auto provider = [&](size_t, httplib::DataSink& sink) {
            static const std::string block(1 << 16, '\0');
            sent += static_cast<int64_t>(block.size());
            return sink.write(block.data(), block.size());
        };
        if (chunked)  // endless
            res.set_chunked_content_provider(
                "video/mp4", [provider](size_t o, auto& sink) { return provider(o, sink); });
        else  // announced: 2 GB
            res.set_content_provider(size_t{2} << 30, "video/mp4",
                                     [provider](size_t o, size_t, httplib::DataSink& sink) {
                                         return provider(o, sink);
                                     });
    };
    front.start();
    Spool s;
    s.drop("huge.json", R"({"prompt": "a cat"})");
    Tuning t;
    // A 1 s video may be 1 x 2 Mbit/s + 8 MiB = 8.6 MB.
    t.extra = "[download]\nmax_mbit_per_second = 2\n";
    auto summary = run_once(s, front.base_url(), t);
    INFO("chunked " << chunked << ", sent " << sent.load() << " bytes in " << fetches.load()
                    << " fetches");
    CHECK(summary.failed == 1);
    CHECK(fetches == 5);
    // Each fetch stopped near the limit (the server's socket buffers hold a little more).
    CHECK(sent.load() < 5 * (9'000'000 + 8'000'000));
    const auto error = read_json(s.failed() / "huge.error.json");
    CHECK(error["error"]["stage"] == "download");
    CHECK_THAT(error["error"]["message"].get<std::string>(), Catch::Contains("larger than"));
    CHECK(s.files(s.outbox()).empty());
    CHECK(s.files(s.outbox() / ".tmp").empty());
}

TEST_CASE("a body trickling in a few bytes a second is cut off", "[hostile]") {
    Front front;
    std::atomic<bool> stop{false};
    front.on_content = [&](const httplib::Request&, httplib::Response& res) {
        res.set_chunked_content_provider("video/mp4", [&](size_t, httplib::DataSink& sink) {
            std::this_thread::sleep_for(500ms);
            return !stop && sink.write("ab", 2);  // 4 bytes a second, forever
        });
    };
    front.start();
    Spool s;
    s.drop("slow.json", R"({"prompt": "a cat"})");
    Tuning t;
    t.extra = "[download]\nmin_bytes_per_second = 1000\nlow_speed_time = \"2s\"\n";
    auto started = std::chrono::steady_clock::now();
    // One attempt is enough to see it cut: the rest of the attempts follow the same rule.
    Config cfg = config_for(s, front.base_url(), t);
    cfg.verify.max_download_attempts = 1;
    DaemonSetup setup;
    setup.config = cfg;
    setup.keys["mock"] = {kKey};
    setup.mode = RunMode::drain;
    RunSummary summary;
    run_daemon(std::move(setup), &summary);
    stop = true;
    auto took = std::chrono::steady_clock::now() - started;
    CHECK(summary.failed == 1);
    CHECK(took < 60s);  // without the rule it never ends
    const auto error = read_json(s.failed() / "slow.error.json");
    CHECK(error["error"]["stage"] == "download");
    CHECK_THAT(error["error"]["message"].get<std::string>(),
               Catch::Contains("min_bytes_per_second"));
}

TEST_CASE("a Retry-After of 31 years is cut to max_provider_wait", "[hostile]") {
    Front front;
    std::atomic<int> creates{0};
    front.on_create = [&](const httplib::Request&, httplib::Response& res) {
        if (creates++ > 0) return false;
        res.status = 429;
        res.set_header("Retry-After", "999999999");
        res.set_content(R"({"error":{"code":"rate_limit_exceeded","message":"slow down"}})",
                        "application/json");
        return true;
    };
    front.start();
    Spool s;
    s.drop("cat.json", R"({"prompt": "a cat"})");
    Config cfg = config_for(s, front.base_url());
    cfg.polling.max_provider_wait = Millis{1500};
    LogCapture logs;
    DaemonSetup setup;
    setup.config = cfg;
    setup.keys["mock"] = {kKey};
    setup.mode = RunMode::drain;
    RunSummary summary;
    run_daemon(std::move(setup), &summary);
    CHECK(summary.delivered == 1);
    CHECK(creates == 2);
    CHECK_THAT(logs.text.str(), Catch::Contains("asked to wait 999999999.0s (Retry-After)"));
}

TEST_CASE("a manifest whose writer pauses with it open is taken only once it is closed",
          "[hostile]") {
    mock::Server server(mock_options());
    server.start();
    Spool s;
    const std::string prompt = "a prompt that a slow writer puts down in two halves";
    const std::string json = R"({"prompt": ")" + prompt + R"(", "seconds": 2})";
    std::thread writer([&] {
        std::ofstream out(s.inbox() / "paused.json");
        out << json.substr(0, 20) << std::flush;
        std::this_thread::sleep_for(1500ms);  // far longer than settle
        out << json.substr(20) << std::flush;
    });
    Tuning t;
    t.settle = "200ms";
    std::this_thread::sleep_for(50ms);
    int rc = -1;
    auto summary = drain(s, server.base_url(), "sk-test", &rc, t);
    writer.join();
    CHECK(summary.delivered == 1);
    CHECK(s.files(s.failed()).empty());
    CHECK(read_json(s.outbox() / "paused.json")["request"]["prompt"] == prompt);
    CHECK(read_json(s.outbox() / "paused.json")["request"]["seconds"] == 2);
}

TEST_CASE("state is private and published files follow their folder, whatever the umask",
          "[hostile]") {
    mock::Server server(mock_options());
    server.start();
    Spool s;
    ::chmod(s.outbox().c_str(), 0750);
    ::chmod(s.failed().c_str(), 0770);
    mode_t old = ::umask(0);
    s.drop("cat.json", R"({"prompt": "a cat"})");
    s.drop("bad.json", R"({"prompt": "forbidden words"})");
    auto summary = drain(s, server.base_url(), "sk-test");
    ::umask(old);
    CHECK(summary.delivered == 1);
    auto mode = [](const stdfs::path& p) {
        struct stat st {};
        REQUIRE(::lstat(p.c_str(), &st) == 0);
        return st.st_mode & 07777;
    };
    const stdfs::path state = s.root / "state";
    CHECK(mode(state) == 0700);
    for (const auto& e : stdfs::recursive_directory_iterator(state)) {
        INFO(e.path());
        CHECK(mode(e.path()) == (e.is_directory() ? 0700u : 0600u));
    }
    CHECK(mode(s.outbox() / "cat.mp4") == 0640);
    CHECK(mode(s.outbox() / "cat.json") == 0640);
    CHECK(mode(s.failed() / "bad.error.json") == 0660);
}

TEST_CASE("files are made anew: a symlink at the name is replaced, its target untouched",
          "[hostile][fs]") {
    Spool s;
    const stdfs::path victim = s.root / "victim";
    std::ofstream(victim) << "precious";
    const stdfs::path name = s.root / "made";
    stdfs::create_symlink(victim, name);
    auto fd = fs::create_new(name.string(), fs::FileMode{0640});
    REQUIRE(fd);
    REQUIRE(::write(*fd, "new", 3) == 3);
    ::close(*fd);
    CHECK(slurp(victim) == "precious");
    CHECK(stdfs::is_regular_file(stdfs::symlink_status(name)));
    CHECK(slurp(name) == "new");
    // write_atomic's temporary names cannot be guessed, and no symlink at the target is followed.
    stdfs::remove(name);
    stdfs::create_symlink(victim, name);
    REQUIRE(fs::write_atomic(name.string(), "atomic"));
    CHECK(slurp(victim) == "precious");
    CHECK(slurp(name) == "atomic");
    CHECK(fs::random_hex(8).size() == 16);
    CHECK(fs::random_hex(8) != fs::random_hex(8));
}

}  // namespace
}  // namespace vd
