#include "daemon/inbox_watcher.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include <catch2/catch.hpp>

#include "tests/daemon/loop_guard.hpp"

using namespace std::chrono_literals;
namespace fs = std::filesystem;
using vd::InboxWatcher;
using vd::test::LoopGuard;

namespace {

struct TempDir {
    fs::path path;
    TempDir() {
        std::string tmpl = (fs::temp_directory_path() / "vd-inbox-XXXXXX").string();
        REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
        path = tmpl;
    }
    ~TempDir() { fs::remove_all(path); }
};

void write(const fs::path& p, const std::string& text, std::ios::openmode mode = std::ios::trunc) {
    std::ofstream(p, std::ios::binary | std::ios::out | mode) << text;
}

// The maildir way: write a temporary name, then rename it in.
void drop(const fs::path& dir, const std::string& name, const std::string& text) {
    write(dir / (name + ".tmp"), text);
    fs::rename(dir / (name + ".tmp"), dir / name);
}

// What the watcher reported, in order.
struct Reports {
    std::vector<std::string> ready;
    std::map<std::string, std::string> rejected;
    size_t count(const std::string& name) const {
        return static_cast<size_t>(std::count(ready.begin(), ready.end(), name));
    }
    vd::InboxCallbacks callbacks() {
        return {[this](const std::string& n) { ready.push_back(n); },
                [this](const std::string& n, const std::string& why) { rejected[n] = why; }};
    }
};

vd::InboxOptions quick(vd::Millis settle = 50ms, vd::Millis rescan = 200ms) {
    vd::InboxOptions o;
    o.settle = settle;
    o.rescan = rescan;
    o.debounce = 20ms;
    return o;
}

}  // namespace

TEST_CASE("a manifest renamed into the inbox is reported once", "[inbox]") {
    TempDir inbox;
    LoopGuard loop;
    Reports seen;
    {
        InboxWatcher w(loop, inbox.path.string(), quick(), seen.callbacks());
        w.start();
        loop.run_for(30ms);
        drop(inbox.path, "cat.json", R"({"prompt":"a cat"})");
        REQUIRE(loop.run_until([&] { return seen.count("cat.json") == 1; }, 2s));
        // Still there (the consumer has not claimed it): later scans stay quiet.
        loop.run_for(450ms);
        CHECK(seen.ready == std::vector<std::string>{"cat.json"});
        CHECK(seen.rejected.empty());
        w.stop();
    }
    REQUIRE(loop.close() == 0);
}

TEST_CASE("a file renamed in is reported at once; one written in place or after its rename settles",
          "[inbox]") {
    TempDir inbox;
    LoopGuard loop;
    Reports seen;
    const auto settle = 3s;
    {
        InboxWatcher w(loop, inbox.path.string(), quick(settle, 10s), seen.callbacks());
        w.start();
        loop.run_for(30ms);
        const auto dropped = std::chrono::steady_clock::now();
        drop(inbox.path, "renamed.json", R"({"prompt":"a cat"})");
        write(inbox.path / "in_place.json", R"({"prompt":"a dog"})");
        drop(inbox.path, "appended.json", R"({"prompt":"a )");
        write(inbox.path / "appended.json", R"(fox"})", std::ios::app);
        REQUIRE(loop.run_until([&] { return seen.count("renamed.json") == 1; }, 2s));
        CHECK(std::chrono::steady_clock::now() - dropped < 1s);
        loop.run_for(300ms);
        CHECK(seen.ready == std::vector<std::string>{"renamed.json"});
        REQUIRE(loop.run_until([&] { return seen.ready.size() == 3; }, 8s));
        CHECK(std::chrono::steady_clock::now() - dropped >= settle);
        CHECK(seen.count("in_place.json") == 1);
        CHECK(seen.count("appended.json") == 1);
    }
    REQUIRE(loop.close() == 0);
}

TEST_CASE("a file that leaves the inbox is forgotten at once, without a scan", "[inbox]") {
    TempDir inbox, elsewhere;
    LoopGuard loop;
    Reports seen;
    {
        // Scans after other hints come only after 5 s and rescans after 60 s: only the event of
        // the file leaving can make the watcher forget it within the second.
        auto o = quick(50ms, 60s);
        o.debounce = 5s;
        InboxWatcher w(loop, inbox.path.string(), o, seen.callbacks());
        w.start();
        loop.run_for(30ms);
        drop(inbox.path, "cat.json", R"({"prompt":"a cat"})");
        REQUIRE(loop.run_until([&] { return seen.count("cat.json") == 1; }, 2s));
        REQUIRE(w.tracked() == 1);
        fs::rename(inbox.path / "cat.json", elsewhere.path / "cat.json");  // claimed
        CHECK(loop.run_until([&] { return w.tracked() == 0; }, 1s));
    }
    REQUIRE(loop.close() == 0);
}

TEST_CASE("a reported file the consumer forgets is reported again after settling", "[inbox]") {
    TempDir inbox;
    LoopGuard loop;
    Reports seen;
    {
        InboxWatcher w(loop, inbox.path.string(), quick(), seen.callbacks());
        drop(inbox.path, "cat.toml", "prompt = 'a cat'");
        w.start();
        REQUIRE(loop.run_until([&] { return seen.count("cat.toml") == 1; }, 2s));
        w.forget("cat.toml");  // e.g. the consumer could not take it yet
        REQUIRE(loop.run_until([&] { return seen.count("cat.toml") == 2; }, 2s));
    }
    REQUIRE(loop.close() == 0);
}

TEST_CASE("a claimed file is forgotten and a new file under its name is reported", "[inbox]") {
    TempDir inbox, state;
    LoopGuard loop;
    std::vector<std::string> ready;
    {
        vd::InboxCallbacks cb;
        int claimed = 0;
        cb.on_ready = [&](const std::string& name) {
            ready.push_back(name);
            // Claim by rename out of the inbox, as the daemon does.
            fs::rename(inbox.path / name, state.path / (std::to_string(claimed++) + name));
        };
        InboxWatcher w(loop, inbox.path.string(), quick(), cb);
        w.start();
        drop(inbox.path, "dog.txt", "a dog");
        REQUIRE(loop.run_until([&] { return ready.size() == 1; }, 2s));
        REQUIRE(loop.run_until([&] { return w.tracked() == 0; }, 2s));
        drop(inbox.path, "dog.txt", "another dog");
        REQUIRE(loop.run_until([&] { return ready.size() == 2; }, 2s));
        CHECK(fs::exists(state.path / "1dog.txt"));
    }
    REQUIRE(loop.close() == 0);
}

TEST_CASE("a file written in several steps is reported only once it has held still for settle",
          "[inbox]") {
    TempDir inbox;
    LoopGuard loop;
    Reports seen;
    const auto settle = 150ms;
    {
        InboxWatcher w(loop, inbox.path.string(), quick(settle), seen.callbacks());
        w.start();
        auto file = inbox.path / "slow.json";
        write(file, R"({"prompt": ")");
        for (int i = 0; i < 5; ++i) {
            loop.run_for(60ms);
            write(file, "more words ", std::ios::app);
        }
        const auto last_write = std::chrono::steady_clock::now();
        CHECK(seen.ready.empty());
        write(file, R"("})", std::ios::app);
        REQUIRE(loop.run_until([&] { return seen.count("slow.json") == 1; }, 2s));
        CHECK(std::chrono::steady_clock::now() - last_write >= settle);
    }
    REQUIRE(loop.close() == 0);
}

TEST_CASE("a .txt waits while its image is still being written, then is reported", "[inbox]") {
    TempDir inbox;
    LoopGuard loop;
    Reports seen;
    const auto settle = 150ms;
    {
        InboxWatcher w(loop, inbox.path.string(), quick(settle), seen.callbacks());
        w.start();
        drop(inbox.path, "cat.txt", "a cat");
        auto image = inbox.path / "cat.png";
        write(image, "part one");
        // The prompt has long held still, but its image keeps growing: no report yet.
        for (int i = 0; i < 6; ++i) {
            loop.run_for(60ms);
            write(image, " more", std::ios::app);
        }
        const auto last_write = std::chrono::steady_clock::now();
        CHECK(seen.ready.empty());
        REQUIRE(loop.run_until([&] { return seen.count("cat.txt") == 1; }, 2s));
        CHECK(std::chrono::steady_clock::now() - last_write >= settle);
        CHECK(w.tracked() == 1);  // the image itself is never tracked as work
    }
    REQUIRE(loop.close() == 0);
}

TEST_CASE("a .txt does not wait for another stem's image; a .json waits for any", "[inbox]") {
    TempDir inbox;
    LoopGuard loop;
    Reports seen;
    {
        InboxWatcher w(loop, inbox.path.string(), quick(100ms), seen.callbacks());
        w.start();
        drop(inbox.path, "dog.txt", "a dog");
        drop(inbox.path, "scene.json", R"({"prompt": "a scene", "image": "ref.png"})");
        auto image = inbox.path / "ref.png";
        write(image, "growing");
        bool dog_first = false;
        for (int i = 0; i < 8; ++i) {
            loop.run_for(50ms);
            write(image, " more", std::ios::app);
            if (seen.count("dog.txt") == 1 && seen.count("scene.json") == 0) dog_first = true;
        }
        CHECK(dog_first);
        CHECK(seen.count("scene.json") == 0);
        REQUIRE(loop.run_until([&] { return seen.count("scene.json") == 1; }, 2s));
    }
    REQUIRE(loop.close() == 0);
}

TEST_CASE("dotfiles, partial uploads and images are ignored", "[inbox]") {
    TempDir inbox;
    LoopGuard loop;
    Reports seen;
    {
        InboxWatcher w(loop, inbox.path.string(), quick(), seen.callbacks());
        w.start();
        write(inbox.path / ".hidden.json", "{}");
        write(inbox.path / "upload.json.tmp", "{}");
        write(inbox.path / "upload.json.part", "{}");
        write(inbox.path / "cat.png", "png");
        write(inbox.path / "notes.md", "notes");
        fs::create_directory(inbox.path / "subdir");
        drop(inbox.path, "cat.txt", "a cat");
        REQUIRE(loop.run_until([&] { return seen.count("cat.txt") == 1; }, 2s));
        loop.run_for(250ms);
        CHECK(seen.ready == std::vector<std::string>{"cat.txt"});
        CHECK(seen.rejected.empty());
        CHECK(w.tracked() == 1);
    }
    REQUIRE(loop.close() == 0);
}

TEST_CASE("a symlinked manifest is rejected once with a reason", "[inbox]") {
    TempDir inbox, elsewhere;
    LoopGuard loop;
    Reports seen;
    {
        InboxWatcher w(loop, inbox.path.string(), quick(), seen.callbacks());
        write(elsewhere.path / "real.json", "{}");
        fs::create_symlink(elsewhere.path / "real.json", inbox.path / "link.json");
        fs::create_directory(inbox.path / "dir.json");
        w.start();
        REQUIRE(loop.run_until([&] { return seen.rejected.size() == 2; }, 2s));
        CHECK(seen.rejected["link.json"].find("symbolic link") != std::string::npos);
        CHECK(seen.rejected["dir.json"].find("not a regular file") != std::string::npos);
        seen.rejected.clear();
        loop.run_for(450ms);
        CHECK(seen.rejected.empty());
        CHECK(seen.ready.empty());
    }
    REQUIRE(loop.close() == 0);
}

TEST_CASE("2,000 files created at once are all reported exactly once", "[inbox]") {
    TempDir inbox;
    LoopGuard loop;
    Reports seen;
    {
        InboxWatcher w(loop, inbox.path.string(), quick(), seen.callbacks());
        w.start();
        loop.run_for(20ms);
        for (int i = 0; i < 2000; ++i)
            drop(inbox.path, "job-" + std::to_string(i) + ".json", "{}");
        REQUIRE(loop.run_until([&] { return seen.ready.size() >= 2000; }, 5s));
        loop.run_for(250ms);
        CHECK(seen.ready.size() == 2000);
        CHECK(std::set<std::string>(seen.ready.begin(), seen.ready.end()).size() == 2000);
    }
    REQUIRE(loop.close() == 0);
}

TEST_CASE("a deleted inbox is rescanned and watched again once it comes back", "[inbox]") {
    TempDir parent;
    const auto inbox = parent.path / "inbox";
    fs::create_directory(inbox);
    LoopGuard loop;
    Reports seen;
    {
        // A long rescan: finding files quickly afterwards proves the watch was re-armed.
        InboxWatcher w(loop, inbox.string(), quick(50ms, 10s), seen.callbacks());
        w.start();
        drop(inbox, "a.json", "{}");
        REQUIRE(loop.run_until([&] { return seen.count("a.json") == 1; }, 2s));

        fs::remove_all(inbox);
        REQUIRE(loop.run_until([&] { return !w.inbox_present(); }, 2s));
        CHECK(w.tracked() == 0);
        loop.run_for(100ms);  // missing for a while: backing off, not spinning

        fs::create_directory(inbox);
        REQUIRE(loop.run_until([&] { return w.inbox_present(); }, 3s));
        drop(inbox, "b.json", "{}");
        REQUIRE(loop.run_until([&] { return seen.count("b.json") == 1; }, 2s));
    }
    REQUIRE(loop.close() == 0);
}

TEST_CASE("an inbox replaced between scans gets a new watch", "[inbox]") {
    TempDir parent;
    const auto inbox = parent.path / "inbox";
    fs::create_directory(inbox);
    LoopGuard loop;
    Reports seen;
    {
        InboxWatcher w(loop, inbox.string(), quick(50ms, 10s), seen.callbacks());
        w.start();
        loop.run_for(30ms);
        // Gone and back before the watcher looks: only the directory's identity tells.
        fs::remove_all(inbox);
        fs::create_directory(inbox);
        loop.run_for(100ms);
        drop(inbox, "c.json", "{}");
        REQUIRE(loop.run_until([&] { return seen.count("c.json") == 1; }, 2s));
    }
    REQUIRE(loop.close() == 0);
}

TEST_CASE("an inbox missing at start is picked up when it appears", "[inbox]") {
    TempDir parent;
    const auto inbox = parent.path / "inbox";
    LoopGuard loop;
    Reports seen;
    {
        InboxWatcher w(loop, inbox.string(), quick(50ms, 300ms), seen.callbacks());
        w.start();
        loop.run_for(50ms);
        CHECK_FALSE(w.inbox_present());
        fs::create_directory(inbox);
        drop(inbox, "d.json", "{}");
        REQUIRE(loop.run_until([&] { return seen.count("d.json") == 1; }, 3s));
    }
    REQUIRE(loop.close() == 0);
}

TEST_CASE("scan_now reports synchronously and stop() ends all reporting", "[inbox]") {
    TempDir inbox;
    LoopGuard loop;
    Reports seen;
    {
        InboxWatcher w(loop, inbox.path.string(), quick(0ms), seen.callbacks());
        drop(inbox.path, "now.json", "{}");
        w.scan_now();  // settle 0: ready when first seen
        CHECK(seen.ready == std::vector<std::string>{"now.json"});
        w.start();
        w.stop();
        w.stop();
        drop(inbox.path, "later.json", "{}");
        w.scan_now();
        loop.run_for(50ms);
        CHECK(seen.ready == std::vector<std::string>{"now.json"});
    }
    REQUIRE(loop.close() == 0);
}

TEST_CASE("a callback may stop the watcher in the middle of a batch", "[inbox]") {
    TempDir inbox;
    LoopGuard loop;
    int calls = 0;
    {
        std::unique_ptr<InboxWatcher> w;
        vd::InboxCallbacks cb;
        cb.on_ready = [&](const std::string&) {
            ++calls;
            w->stop();
        };
        w = std::make_unique<InboxWatcher>(loop, inbox.path.string(), quick(0ms), cb);
        for (int i = 0; i < 3; ++i)
            drop(inbox.path, "j" + std::to_string(i) + ".json", "{}");
        w->start();
        loop.run_for(100ms);
    }
    CHECK(calls == 1);
    REQUIRE(loop.close() == 0);
}

TEST_CASE("a writer opening a file while the watcher checks it never ends the process", "[inbox]") {
    // The open-for-writing check takes a read lease for an instant; a writer that opens the file
    // then breaks it, and the kernel sends SIGIO, which by default ends the process.
    TempDir t;
    LoopGuard loop;
    Reports r;
    InboxWatcher w(loop, t.path.string(), quick(10s, 10s), r.callbacks());
    write(t.path / "busy.json", R"({"prompt": "x"})");
    std::atomic<bool> stop{false};
    std::thread writer([&] {
        while (!stop) {
            int fd = ::open((t.path / "busy.json").c_str(), O_WRONLY | O_APPEND);
            if (fd >= 0) ::close(fd);
        }
    });
    for (int i = 0; i < 3000; ++i)
        w.scan_now();
    stop = true;
    writer.join();
    struct sigaction sa {};
    ::sigaction(SIGIO, nullptr, &sa);
    CHECK(sa.sa_handler == SIG_IGN);
    CHECK(r.ready.empty());  // never settled: the writer kept touching it
    w.stop();
}

namespace {
int active_timers(uv_loop_t* loop) {
    int n = 0;
    uv_walk(
        loop,
        [](uv_handle_t* h, void* count) {
            if (h->type == UV_TIMER && uv_is_active(h)) ++*static_cast<int*>(count);
        },
        &n);
    return n;
}
}  // namespace

TEST_CASE("an idle inbox keeps no timer: one rescan follows a burst of changes, then none",
          "[inbox]") {
    TempDir inbox;
    LoopGuard loop;
    Reports seen;
    {
        InboxWatcher w(loop, inbox.path.string(), quick(), seen.callbacks());
        w.start();
        loop.run_for(100ms);
        CHECK(active_timers(loop) == 0);  // nothing there, nothing heard: nothing to wake for
        drop(inbox.path, "cat.json", R"({"prompt":"a cat"})");
        REQUIRE(loop.run_until([&] { return seen.count("cat.json") == 1; }, 2s));
        CHECK(active_timers(loop) == 1);  // the rescan after the change notices
        loop.run_for(600ms);              // rescan is 200 ms: it ran and found nothing new
        CHECK(active_timers(loop) == 0);
        // The watch still brings the next file at once.
        drop(inbox.path, "dog.json", R"({"prompt":"a dog"})");
        REQUIRE(loop.run_until([&] { return seen.count("dog.json") == 1; }, 2s));
        // A forgotten file is judged again at a later scan even with no change notice.
        loop.run_for(600ms);
        w.forget("dog.json");
        REQUIRE(loop.run_until([&] { return seen.count("dog.json") == 2; }, 2s));
    }
    REQUIRE(loop.close() == 0);
}
