// `videodrop cancel`: a manifest still in the inbox goes straight to failed/; a claimed job is
// cancelled at once when no daemon holds the state folder, otherwise by the daemon, which polls
// STATE/cancel/NAME about once a second (and applies what it finds there at start), then deletes
// the request.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>

#include "config/manifest.hpp"
#include "daemon/cancel_requests.hpp"
#include "daemon/cli.hpp"
#include "daemon/delivery.hpp"
#include "daemon/fail_job.hpp"
#include "daemon/fs_move.hpp"
#include "daemon/fsutil.hpp"
#include "daemon/job_store.hpp"
#include "daemon/manage.hpp"
#include "daemon/manage_util.hpp"
#include "daemon/notice.hpp"
#include "daemon/sidecar.hpp"
#include "pipeline/engine.hpp"

namespace vd::manage {
namespace {

namespace sfs = std::filesystem;
using nlohmann::json;

// Claimed jobs named NAME that are not finished, including claims the daemon has not recorded
// yet (their folder is STATE/claimed/<seq>-NAME).
int claimed_jobs(const std::string& state, const std::string& name) {
    int n = 0;
    std::vector<std::string> ids;
    for (const auto& j : state_view::jobs(state)) {
        ids.push_back(j.id);
        if (j.spec.name == name && !is_terminal(j.state)) ++n;
    }
    for (const auto& id : state_view::claim_ids(state)) {
        if (!JobStore::claim_of(id, name)) continue;
        if (std::find(ids.begin(), ids.end(), id) == ids.end()) ++n;
    }
    return n;
}

// The files a manifest in the inbox brings along: its image, as the daemon would claim it.
std::vector<std::string> companions(const Config& cfg, const std::string& manifest) {
    std::vector<std::string> out;
    auto spec = read_manifest(cfg.paths.inbox + "/" + manifest, cfg.paths.inbox, cfg,
                              remix_lookup(cfg.paths.outbox));
    if (!spec) return out;
    auto add = [&](const std::string& f) {
        if (!f.empty() && f.find('/') == std::string::npos && f != manifest &&
            std::find(out.begin(), out.end(), f) == out.end())
            out.push_back(f);
    };
    add(spec->image_original);
    for (const auto& f : spec->companion_files)
        add(f);
    return out;
}

json cancelled_error(const std::string& name) {
    return make_error(name, nullptr,
                      JobError::intake("cancelled", "cancelled by the user before it was claimed",
                                       "`videodrop retry " + name + "` submits it again"));
}

enum class Unclaimed { none, moved, raced, error };

// Takes the manifest out of the inbox the way the daemon claims one (a rename into a private
// folder, here a dotfile in the inbox it ignores), so exactly one of us gets it.
Unclaimed fail_unclaimed(const Config& cfg, const std::string& name) {
    const std::string& inbox = cfg.paths.inbox;
    const std::string manifest = find_manifest(inbox, name);
    if (manifest.empty()) return Unclaimed::none;
    auto files = companions(cfg, manifest);

    const std::string hold = inbox + "/." + name + ".cancel.tmp";
    if (::mkdir(hold.c_str(), 0700) != 0 && errno != EEXIST) {
        std::fprintf(stderr, "videodrop: cannot create %s: %s\n", hold.c_str(),
                     std::strerror(errno));
        return Unclaimed::error;
    }
    if (int err = fs::rename_noreplace(inbox + "/" + manifest, hold + "/" + manifest); err != 0) {
        std::error_code ec;
        sfs::remove(hold, ec);  // only when empty: a leftover of an interrupted cancel stays
        if (err == ENOENT) return Unclaimed::raced;
        std::fprintf(stderr, "videodrop: cannot take %s/%s out of the inbox: %s\n", inbox.c_str(),
                     manifest.c_str(), std::strerror(err));
        return Unclaimed::error;
    }
    for (const auto& f : files)
        (void)fs::rename_noreplace(inbox + "/" + f, hold + "/" + f);  // missing: claimed elsewhere
    files.insert(files.begin(), manifest);

    auto stem = delivery::move_to_failed(cfg.paths, hold, files, name, cancelled_error(name));
    if (!stem) {
        std::fprintf(stderr, "videodrop: %s (the files wait in %s)\n", stem.error().c_str(),
                     hold.c_str());
        return Unclaimed::error;
    }
    std::error_code ec;
    sfs::remove_all(hold, ec);
    // The hooks hear of it when a daemon next runs (at once, if one runs now).
    if (cfg.hooks.any())
        if (auto r = save_notice(cfg.paths.state,
                                 notice_of("cancel-" + fs::random_hex(6) + "-" + name, name,
                                           "cancelled", cfg.paths, *stem),
                                 true);
            !r)
            std::fprintf(stderr, "videodrop: %s: its hooks will not run: %s\n", name.c_str(),
                         r.error().c_str());
    std::printf("%s: cancelled before it was claimed; moved to %s/%s.error.json\n", name.c_str(),
                cfg.paths.failed.c_str(), stem->c_str());
    return Unclaimed::moved;
}

// No daemon holds the state folder: the cancel is applied here and now, through the engine's own
// rule (a job that never reached the provider gets its reservation back; one that did keeps
// its charge). Returns the number of jobs cancelled, or nothing when a daemon took the lock first
// (then a request is left for it).
std::optional<int> cancel_offline(const Config& cfg, const std::string& name) {
    auto store = JobStore::open(cfg.paths.state);
    if (!store) return std::nullopt;
    TimePoint now = std::chrono::time_point_cast<Millis>(std::chrono::system_clock::now());
    // A claim cut short before its record: back to the inbox, then cancelled from there.
    for (const auto& id : store->orphan_claims())
        if (JobStore::claim_of(id, name)) (void)store->unclaim(id, cfg.paths.inbox, {});
    if (fail_unclaimed(cfg, name) == Unclaimed::moved) return 1;

    std::vector<Job> mine;
    for (auto& job : store->load_all().jobs)
        if (job.spec.name == name && !is_terminal(job.state)) mine.push_back(std::move(job));
    auto ledger = store->load_ledger();
    Engine engine(cfg.settings(), 1);
    (void)engine.restore(mine, ledger ? *ledger : std::vector<LedgerEntry>{}, nullptr, {}, now);
    int cancelled = 0;
    for (const auto& job : mine) {
        for (const auto& c : engine.cancel(job.id, now)) {
            if (const auto* p = std::get_if<Persist>(&c)) {
                if (auto r = store->save(p->job); !r)
                    std::fprintf(stderr, "videodrop: %s\n", r.error().c_str());
            } else if (const auto* r = std::get_if<RecordSpend>(&c)) {
                if (auto ok = store->append_ledger(r->entry); !ok)
                    std::fprintf(stderr, "videodrop: %s\n", ok.error().c_str());
            } else if (const auto* f = std::get_if<Fail>(&c)) {
                auto moved = move_failed_job(cfg.paths, *store, f->job);
                if (!moved) {
                    std::fprintf(stderr, "videodrop: %s\n", moved.error().c_str());
                    continue;
                }
                if (!moved->empty() && cfg.hooks.any())
                    if (auto r = save_notice(cfg.paths.state, notice_of(f->job, cfg.paths, *moved),
                                             true);
                        !r)
                        std::fprintf(stderr, "videodrop: %s: its hooks will not run: %s\n",
                                     name.c_str(), r.error().c_str());
                (void)store->remove_claim(f->job.id);
                ++cancelled;
                if (moved->empty())
                    std::printf("%s: cancelled\n", name.c_str());
                else
                    std::printf("%s: cancelled; moved to %s/%s.error.json\n", name.c_str(),
                                cfg.paths.failed.c_str(), moved->c_str());
            }
        }
    }
    return cancelled;
}

}  // namespace

int cancel(const Config& cfg, const std::vector<std::string>& names) {
    int rc = cli::kOk;
    const bool running = daemon_running(cfg.paths.state);
    for (const auto& name : names) {
        if (!is_valid_name(name)) {
            std::fprintf(stderr,
                         "videodrop: \"%s\" is not a job name (1-120 letters, digits, '.', '_' "
                         "or '-'; see `videodrop status`)\n",
                         one_line(name, 60).c_str());
            rc = worse(rc, cli::kUsage);
            continue;
        }
        auto unclaimed = fail_unclaimed(cfg, name);
        if (unclaimed == Unclaimed::error) {
            rc = worse(rc, cli::kFatal);
            continue;
        }
        // Counted after the inbox: a manifest claimed meanwhile has a record (or claim) by now.
        int claimed = claimed_jobs(cfg.paths.state, name);
        if (claimed == 0 && unclaimed != Unclaimed::raced) {
            if (unclaimed == Unclaimed::none) {
                std::fprintf(stderr,
                             "videodrop: no queued or running job named %s (see `videodrop "
                             "status`)\n",
                             name.c_str());
                rc = worse(rc, cli::kUsage);
            }
            continue;
        }
        if (!running) {
            if (auto done = cancel_offline(cfg, name)) {
                if (*done == 0) {
                    std::fprintf(stderr, "videodrop: %s: nothing to cancel any more\n",
                                 name.c_str());
                    rc = worse(rc, cli::kUsage);
                }
                continue;
            }
        }
        if (auto r = cancel_requests::request(cfg.paths.state, name); !r) {
            std::fprintf(stderr, "videodrop: %s\n", r.error().c_str());
            rc = worse(rc, cli::kFatal);
            continue;
        }
        std::printf("%s: cancel requested; the daemon applies it within a few seconds\n",
                    name.c_str());
    }
    return rc;
}

}  // namespace vd::manage
