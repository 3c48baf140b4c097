// [hooks] end to end with the real binary: an argv hook on every outcome (a delivery, a refusal,
// a malformed manifest, a cancel without a daemon), without a shell and without the daemon's
// keys; a hanging hook killed at its limit without holding up delivery; a webhook signed with
// HMAC-SHA256, retried from its persisted notice by the next run; a kill -9 while a hook runs.
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "daemon/notifier.hpp"
#include "mock/http_lib.hpp"
#include "mock/mock.hpp"
#include "tests/daemon/child.hpp"
#include "tests/daemon/daemon_fixtures.hpp"

namespace vd {

namespace {

namespace sfs = std::filesystem;

// A hook that writes one line per call: its arguments, then what it sees in its environment.
std::string write_recorder(const Spool& s) {
    const std::string path = (s.root / "record.sh").string();
    std::ofstream(path)
        << "#!/bin/sh\n"
           "printf '%s|%s|%s|%s|env:%s|%s|%s|key:%s\\n' \"$1\" \"$2\" \"$3\" \"$4\" "
           "\"$VIDEODROP_NAME\" \"$VIDEODROP_OUTCOME\" \"$VIDEODROP_ERROR\" "
           "\"${VD_HOOK_KEY:-none}\" >> '" +
               (s.root / "hooks.log").string() +
               "'\n"
               "echo \"said by the hook for $1\"\n";
    sfs::permissions(path, sfs::perms::owner_all);
    return path;
}

std::vector<std::string> lines_of(const sfs::path& p) {
    std::vector<std::string> out;
    std::ifstream in(p);
    for (std::string line; std::getline(in, line);)
        if (!line.empty()) out.push_back(line);
    std::sort(out.begin(), out.end());
    return out;
}

std::string hooks_config(const Spool& s, const std::string& base_url, const std::string& hooks) {
    const std::string root = s.root.string();
    std::string text = "[paths]\ninbox = \"" + root + "/inbox\"\noutbox = \"" + root +
                       "/outbox\"\nfailed = \"" + root + "/failed\"\nstate = \"" + root +
                       "/state\"\n[defaults]\nprovider = \"mock\"\nmodel = \"tiny\"\n"
                       "seconds = 1\nsize = \"160x90\"\n[providers.mock]\nbase_url = \"" +
                       base_url +
                       "\"\napi_key_env = \"VD_HOOK_KEY\"\nsubmits_per_minute = 600\n"
                       "[providers.mock.models.tiny]\nseconds = [1, 2]\n"
                       "sizes = [\"160x90\", \"90x160\"]\nusd_per_second = 0.05\n"
                       "[intake]\nsettle = \"50ms\"\n[polling]\nmin_interval = \"50ms\"\n"
                       "max_interval = \"500ms\"\n[hooks]\n" +
                       hooks + "\n";
    auto path = s.root / "videodrop.toml";
    std::ofstream(path) << text;
    return path.string();
}

test::ShellRun videodrop(const std::string& cfg, const std::string& args,
                         const std::string& env = "") {
    return test::run_shell(env + " VD_HOOK_KEY=sk-test '" + std::string(VD_BINARY) +
                           "' --config '" + cfg + "' " + args + " 2>&1");
}

// A receiver of webhooks on loopback: answers each POST with the next status of `statuses`
// (then 200), keeping what came.
struct Receiver {
    struct Post {
        std::string body, event, delivery, signature;
    };
    httplib::Server server;
    std::thread thread;
    int port = 0;
    std::mutex mu;
    std::vector<Post> posts;
    std::vector<int> statuses;
    explicit Receiver(std::vector<int> s) : statuses(std::move(s)) {
        server.Post("/hook", [this](const httplib::Request& req, httplib::Response& res) {
            std::lock_guard lock(mu);
            posts.push_back({req.body, req.get_header_value("X-Videodrop-Event"),
                             req.get_header_value("X-Videodrop-Delivery"),
                             req.get_header_value("X-Videodrop-Signature")});
            res.status = posts.size() <= statuses.size() ? statuses[posts.size() - 1] : 200;
            res.set_content("{}", "application/json");
        });
        port = server.bind_to_any_port("127.0.0.1");
        thread = std::thread([this] { server.listen_after_bind(); });
        while (!server.is_running())
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ~Receiver() {
        server.stop();
        thread.join();
    }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port) + "/hook"; }
    std::vector<Post> all() {
        std::lock_guard lock(mu);
        return posts;
    }
};

}  // namespace

TEST_CASE("hook helpers: placeholders, environment, signature", "[hooks]") {
    Notice n;
    n.name = "cat";
    n.outcome = "failed";
    n.sidecar = "/srv/failed/cat.error.json";
    n.error = "moderation_blocked";
    CHECK(hook_argv({"/bin/notify", "{name}: {error}", "--file={sidecar}", "{mp4}"}, n) ==
          std::vector<std::string>{"/bin/notify", "cat: moderation_blocked",
                                   "--file=/srv/failed/cat.error.json", ""});
    ::setenv("VD_SECRET_SHAPED", "sk-live-xyz", 1);
    auto env = hook_env(n);
    CHECK(std::count(env.begin(), env.end(), "VIDEODROP_ERROR=moderation_blocked") == 1);
    CHECK(std::count(env.begin(), env.end(), "VIDEODROP_OUTCOME=failed") == 1);
    for (const auto& e : env)
        CHECK(e.find("sk-live-xyz") == std::string::npos);
    // RFC 4231, test case 2.
    CHECK(webhook_signature("Jefe", "what do ya want for nothing?") ==
          "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST_CASE("every outcome fires one hook: delivered, refused, malformed, cancelled offline",
          "[hooks][daemon]") {
    mock::Server server(mock_options());
    server.start();
    Spool s;
    const std::string rec = write_recorder(s);
    const std::string cfg =
        hooks_config(s, server.base_url(),
                     "on_delivered = [\"" + rec +
                         "\", \"{name}\", \"{mp4}\", \"{sidecar}\", \"{error}\"]\n"
                         "on_failed = [\"" +
                         rec + "\", \"{name}\", \"{error}\", \"{sidecar}\", \"{mp4}\"]\n");
    s.drop("good.json", R"({"prompt": "a calm lake"})");
    s.drop("bad.json", R"({"prompt": "a forbidden scene"})");
    s.drop("broken.json", R"({"prompt": "a missing brace")");
    auto run = videodrop(cfg, "once");
    INFO(run.output);
    CHECK(run.code == 3);  // some went to failed/
    const std::string out = s.outbox().string(), failed = s.failed().string();
    CHECK(lines_of(s.root / "hooks.log") ==
          std::vector<std::string>{
              "bad|moderation_blocked|" + failed +
                  "/bad.error.json||env:bad|failed|"
                  "moderation_blocked|key:none",
              "broken|parse_error|" + failed +
                  "/broken.error.json||env:broken|failed|parse_error|"
                  "key:none",
              "good|" + out + "/good.mp4|" + out + "/good.json||env:good|delivered||key:none"});
    CHECK_THAT(run.output, Catch::Contains("said by the hook for good"));
    CHECK(sfs::is_empty(s.root / "state" / "notify"));

    SECTION("a cancel with no daemon running is told at the next start") {
        s.drop("later.json", R"({"prompt": "never made"})");
        auto cancel = videodrop(cfg, "cancel later");
        INFO(cancel.output);
        CHECK(cancel.code == 0);
        auto again = videodrop(cfg, "once");
        INFO(again.output);
        auto lines = lines_of(s.root / "hooks.log");
        REQUIRE(lines.size() == 4);
        CHECK(std::count(lines.begin(), lines.end(),
                         "later|cancelled|" + failed +
                             "/later.error.json||env:later|cancelled|"
                             "cancelled|key:none") == 1);
        CHECK(server.videos_created() == 2);  // good and bad; never the cancelled one
    }
}

TEST_CASE("a hanging hook is killed at its limit and never holds up delivery", "[hooks][daemon]") {
    mock::Server server(mock_options());
    server.start();
    Spool s;
    const std::string cfg = hooks_config(
        s, server.base_url(),
        "on_delivered = [\"/bin/sh\", \"-c\", \"sleep 60\"]\ntimeout = \"1s\"\nmax_running = 1\n");
    for (auto name : {"one", "two", "three"})
        s.drop(std::string(name) + ".json", R"({"prompt": "hills"})");
    auto t0 = std::chrono::steady_clock::now();
    auto run = videodrop(cfg, "once");
    auto took = std::chrono::steady_clock::now() - t0;
    INFO(run.output);
    CHECK(run.code == 0);
    CHECK(s.files(s.outbox()).size() == 6);  // three MP4s and their sidecars
    CHECK(took < std::chrono::seconds(20));  // three 1 s limits, not three minutes
    size_t killed = 0;
    for (size_t at = run.output.find("killed after"); at != std::string::npos;
         at = run.output.find("killed after", at + 1))
        ++killed;
    CHECK(killed == 3);
    CHECK_THAT(run.output, Catch::Contains("the job is not affected"));
}

TEST_CASE("a webhook is signed, and one refused is retried from its notice by the next run",
          "[hooks][daemon]") {
    mock::Server server(mock_options());
    server.start();
    Receiver receiver({503});
    Spool s;
    const std::string cfg = hooks_config(
        s, server.base_url(),
        "webhook_url = \"" + receiver.url() + "\"\nwebhook_secret_env = \"VD_WEBHOOK_SECRET\"\n");
    const std::string env = "VD_WEBHOOK_SECRET=s3cret-hmac";
    s.drop("good.json", R"({"prompt": "a calm lake"})");
    auto first = videodrop(cfg, "once", env);
    INFO(first.output);
    CHECK(first.code == 0);
    REQUIRE(receiver.all().size() == 1);  // refused with 503; the retry is due in 2 s
    CHECK_THAT(first.output, Catch::Contains("webhook of good: HTTP 503; again in 2 s"));
    CHECK(std::distance(sfs::directory_iterator(s.root / "state" / "notify"),
                        sfs::directory_iterator()) == 1);
    std::this_thread::sleep_for(std::chrono::milliseconds(2200));
    auto second = videodrop(cfg, "once", env);
    INFO(second.output);
    auto posts = receiver.all();
    REQUIRE(posts.size() == 2);
    const auto& p = posts[1];
    CHECK(p.event == "delivered");
    CHECK(p.body == posts[0].body);
    std::ifstream sidecar(s.outbox() / "good.json");
    std::string text((std::istreambuf_iterator<char>(sidecar)), std::istreambuf_iterator<char>());
    CHECK(p.body == text);
    CHECK(p.signature == webhook_signature("s3cret-hmac", p.body));
    CHECK(p.delivery == posts[0].delivery);  // the same notification, for a receiver's dedupe
    CHECK(sfs::is_empty(s.root / "state" / "notify"));
    for (const auto& run : {first.output, second.output})
        CHECK(run.find("s3cret-hmac") == std::string::npos);
    CHECK(p.body.find("s3cret-hmac") == std::string::npos);
}

TEST_CASE("kill -9 while a hook runs: the next start runs it again from its notice",
          "[hooks][daemon]") {
    mock::Server server(mock_options());
    server.start();
    Spool s;
    const std::string log = (s.root / "hooks.log").string();
    const std::string cfg =
        hooks_config(s, server.base_url(),
                     "on_delivered = [\"/bin/sh\", \"-c\", \"echo start $VIDEODROP_NAME >> " + log +
                         "; sleep 3; echo end $VIDEODROP_NAME >> " + log + "\"]\n");
    s.drop("good.json", R"({"prompt": "a calm lake"})");
    pid_t pid = test::spawn({VD_BINARY, "--config", cfg, "run"}, "VD_HOOK_KEY", "sk-test");
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (lines_of(log).empty() && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    REQUIRE(lines_of(log) == std::vector<std::string>{"start good"});
    ::kill(pid, SIGKILL);
    test::wait_for(pid);
    CHECK(sfs::exists(s.outbox() / "good.mp4"));
    CHECK(std::distance(sfs::directory_iterator(s.root / "state" / "notify"),
                        sfs::directory_iterator()) == 1);
    auto run = videodrop(cfg, "once");
    INFO(run.output);
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    auto lines = lines_of(log);
    CHECK(std::count(lines.begin(), lines.end(), "start good") == 2);
    CHECK(std::count(lines.begin(), lines.end(), "end good") >= 1);
    CHECK(sfs::is_empty(s.root / "state" / "notify"));
}

}  // namespace vd
