// `videodrop demo [DIR]`: the zero-setup tour. The built-in mock provider on loopback, example
// manifests of every kind, one drain run, and a table of what landed where.
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <set>

#include "app/app.hpp"
#include "config/manifest.hpp"
#include "daemon/cli.hpp"
#include "daemon/daemon.hpp"
#include "daemon/fsutil.hpp"
#include "mock/media.hpp"
#include "mock/mock.hpp"

namespace vd::cli {

namespace {

struct Example {
    std::string file;
    std::string content;
    std::string what;
};

std::vector<Example> examples() {
    return {
        {"cat-piano.json",
         R"({"prompt": "A cat playing a grand piano on a small stage, warm spotlight", "seconds": 4})",
         "text to video (JSON)"},
        {"lighthouse.json",
         R"({"prompt": "The lighthouse at dusk, waves rolling in", "image": "lighthouse-ref.png",
  "image_fit": "cover", "size": "1280x720"})",
         "image to video; the 640x480 reference is fitted to 1280x720"},
        {"city-night.txt", "Neon-lit city street at night in the rain, slow dolly shot\n",
         "a plain .txt prompt"},
        {"beach.toml",
         "prompt = \"Waves on a quiet beach at sunrise\"\naspect = \"9:16\"\n"
         "variants = [\"thumbnail\", \"spritesheet\"]\n\n[meta]\ncampaign = \"summer\"\ntake = 3\n",
         "TOML with aspect, variants and meta"},
        {"harbor-stream.json",
         R"({"prompt": "Fishing boats leaving the harbor at dawn", "provider": "studio"})",
         "a chat-completions (chat-sse) provider: one streamed answer"},
        {"forbidden-scene.json", R"({"prompt": "A forbidden scene the provider refuses"})",
         "refused by the provider's moderation"},
        {"broken.json", R"({"prompt": "a manifest with a missing brace")", "malformed JSON"},
    };
}

Config demo_config(const std::string& dir, const std::string& base_url) {
    Config cfg;
    cfg.source = "(built-in demo configuration)";
    cfg.paths = {dir + "/inbox", dir + "/outbox", dir + "/failed", dir + "/state"};
    cfg.defaults.provider = "mock";
    cfg.defaults.model = "sora-2";
    cfg.defaults.seconds = 4;
    cfg.defaults.size = "1280x720";
    ProviderConfig p;
    p.core.name = "mock";
    p.core.protocol = "mock";
    p.core.base_url = base_url;
    p.core.submits_per_minute = 60;
    p.core.max_in_flight = 8;
    p.core.models["sora-2"] = ModelSpec{"sora-2", {4, 8, 12}, {"720x1280", "1280x720"}, 0.10};
    cfg.providers["mock"] = p;
    // A second provider speaking the chat-completions streaming protocol (sora2api-style), on
    // the same mock.
    ProviderConfig chat = p;
    chat.core.name = "studio";
    chat.core.protocol = "chat-sse";
    cfg.providers["studio"] = chat;
    cfg.intake.settle = Millis{100};
    cfg.polling.min_interval = Millis{250};
    cfg.polling.max_interval = Millis{2000};
    return cfg;
}

// The demo's folder as a configuration of its own (written once, never over a user's): there,
// `videodrop status`, `submit` and `once` work with the built-in mock provider.
void write_folder_config(const std::string& dir) {
    const std::string path = dir + "/videodrop.toml";
    if (fs::exists(path)) return;
    const char* text =
        "# The demo's folder as a configuration: here `videodrop status`, `videodrop submit ...`\n"
        "# and `videodrop once` work with the built-in mock provider (no key, no network).\n"
        "# Every key: config/videodrop.example.toml.\n\n"
        "[paths]\ninbox = \"inbox\"\noutbox = \"outbox\"\nfailed = \"failed\"\n"
        "state = \"state\"\n\n"
        "[defaults]\nprovider = \"mock\"\nmodel = \"sora-2\"\nseconds = 4\n"
        "size = \"1280x720\"\n\n"
        "[providers.mock]\nprotocol = \"mock\"\nsubmits_per_minute = 60\n\n"
        "[providers.mock.models.sora-2]\nseconds = [4, 8, 12]\n"
        "sizes = [\"720x1280\", \"1280x720\"]\nusd_per_second = 0.10\n\n"
        "[intake]\nsettle = \"100ms\"\n\n"
        "[polling]\nmin_interval = \"250ms\"\nmax_interval = \"2s\"\n";
    if (auto w = fs::write_atomic(path, text, fs::FileMode{0644}); !w)
        std::fprintf(stderr, "videodrop: %s\n", w.error().c_str());
}

// The error files (NAME.error.json) in failed/ now.
std::set<std::string> error_files(const std::string& failed) {
    std::set<std::string> out;
    std::error_code ec;
    const std::string suffix = ".error.json";
    for (std::filesystem::directory_iterator it(failed, ec), end; !ec && it != end;
         it.increment(ec)) {
        std::string f = it->path().filename().string();
        if (f.size() > suffix.size() && f.ends_with(suffix) && f.front() != '.') out.insert(f);
    }
    return out;
}

// Whether failed/FILE is the error file of `job`: its "files" map ({name in failed/: original
// name}) brings back the job's manifest. A collision in failed/ makes the stem NAME-2, NAME-3...,
// so the job's name alone does not tell the file.
bool is_error_file_of(const Job& job, const std::string& path) {
    auto text = fs::read_file(path, 16u << 20);
    if (!text) return false;
    auto e = nlohmann::json::parse(*text, nullptr, false);
    if (!e.is_object() || !e.contains("files") || !e["files"].is_object()) return false;
    if (job.error && e.contains("error") && e["error"].is_object() &&
        e["error"].value("code", job.error->code) != job.error->code)
        return false;
    for (const auto& [target, original] : e["files"].items()) {
        if (!original.is_string()) continue;
        const auto name = original.get<std::string>();
        if (!job.spec.manifest_file.empty()
                ? name == job.spec.manifest_file
                : is_manifest_name(name) && std::filesystem::path(name).stem() == job.spec.name)
            return true;
    }
    return false;
}

// The error file the run wrote for `job`, taken out of `fresh` (the files that appeared during
// the run), or "" when there is none.
std::string take_error_file(const Job& job, const std::string& failed,
                            std::set<std::string>& fresh) {
    for (auto it = fresh.begin(); it != fresh.end(); ++it)
        if (is_error_file_of(job, failed + "/" + *it)) {
            std::string f = *it;
            fresh.erase(it);
            return f;
        }
    return "";
}

}  // namespace

void add_demo(CLI::App& app, Globals& g, int& rc) {
    auto* cmd = app.add_subcommand(
        "demo", "the zero-setup tour: a built-in mock provider, example manifests, real MP4s");
    auto dir = std::make_shared<std::string>("videodrop-demo");
    cmd->add_option("DIR", *dir, "where the demo's folders go (default ./videodrop-demo)");
    cmd->callback([&g, &rc, dir] {
        setup_logging(LogSettings{}, g.log_level);
        mock::Options mo;
        mo.keys = {"demo-key"};
        mo.queue_time = Millis{300};
        mo.gen_time = Millis{1500};
        mo.moderation_word = "forbidden";
        mock::Server server(mo);
        server.start();
        std::printf("videodrop demo: mock provider on %s (no key, no network needed)\n",
                    server.base_url().c_str());

        Config cfg = demo_config(*dir, server.base_url());
        if (auto r = fs::make_dirs(cfg.paths.inbox); !r) {
            std::fprintf(stderr, "videodrop: %s\n", r.error().c_str());
            rc = kFatal;
            return;
        }
        auto still = mock::render_still("png", Size{640, 480}, 1.0);
        if (still) (void)fs::write_atomic(cfg.paths.inbox + "/lighthouse-ref.png", *still);
        std::printf("dropping example manifests into %s:\n", cfg.paths.inbox.c_str());
        for (const auto& e : examples()) {
            // As a producer should: write NAME.tmp, then rename it in.
            if (auto r = fs::write_atomic(cfg.paths.inbox + "/" + e.file, e.content); !r) {
                std::fprintf(stderr, "videodrop: %s\n", r.error().c_str());
                rc = kFatal;
                return;
            }
            std::printf("  %-22s %s\n", e.file.c_str(), e.what.c_str());
        }
        std::fflush(stdout);

        std::vector<Job> finished;
        DaemonSetup setup;
        setup.config = cfg;
        setup.keys["mock"] = {"demo-key"};
        setup.keys["studio"] = {"demo-key"};
        setup.mode = RunMode::drain;
        setup.on_finished = [&finished](const Job& job) { finished.push_back(job); };
        RunSummary summary;
        const auto before = error_files(cfg.paths.failed);
        int run_rc = run_daemon(std::move(setup), &summary);
        server.stop();
        // A second demo in the same folder finds broken.error.json there already: what it writes
        // is broken-2.error.json. The table names the files really written.
        std::set<std::string> fresh;
        for (const auto& f : error_files(cfg.paths.failed))
            if (!before.contains(f)) fresh.insert(f);

        std::printf("\n%-18s %-10s %s\n", "NAME", "OUTCOME", "FILE");
        for (const auto& job : finished) {
            if (job.state == State::delivered)
                std::printf("%-18s %-10s %s/%s.mp4 (+ %s.json)\n", job.spec.name.c_str(),
                            "delivered", cfg.paths.outbox.c_str(), job.output_name.c_str(),
                            job.output_name.c_str());
            else if (auto f = take_error_file(job, cfg.paths.failed, fresh); !f.empty())
                std::printf("%-18s %-10s %s/%s (%s)\n", job.spec.name.c_str(), "failed",
                            cfg.paths.failed.c_str(), f.c_str(),
                            job.error ? job.error->code.c_str() : "?");
            else
                std::printf("%-18s %-10s no error file in %s/ (%s; see the log above)\n",
                            job.spec.name.c_str(), "failed", cfg.paths.failed.c_str(),
                            job.error ? job.error->code.c_str() : "?");
        }
        write_folder_config(*dir);
        std::printf("\n%d delivered, %d failed (two of them on purpose). Look in %s/.\n",
                    summary.delivered, summary.failed, dir->c_str());
        std::printf(
            "Next: cd %s && videodrop status (its videodrop.toml serves the folder with "
            "the built-in mock)\n",
            dir->c_str());
        rc = (run_rc == 0 || run_rc == 3) && summary.delivered == 5 ? kOk : kFatal;
    });
}

}  // namespace vd::cli
