// The daemon's inbox side: taking a manifest (validate, claim, fit its image, hand it to the
// engine), rejecting one, returning claims a crash cut short, cancel requests, the metrics file.
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include <spdlog/spdlog.h>

#include "config/manifest.hpp"
#include "daemon/cancel_requests.hpp"
#include "daemon/daemon_impl.hpp"
#include "daemon/delivery.hpp"
#include "daemon/fsutil.hpp"
#include "daemon/image_fit.hpp"
#include "daemon/metrics.hpp"
#include "daemon/notice.hpp"
#include "daemon/refetch.hpp"
#include "daemon/sha256.hpp"
#include "daemon/sidecar.hpp"

namespace vd {

using namespace daemon_detail;

// Every way out of intake (claimed, rejected, or lost to another process) may end a `once` run.
void Daemon::Impl::intake(const std::string& name) {
    intake_one(name);
    maybe_finish();
}

// The images a manifest that cannot be read was brought with, so they go to failed/ beside it
// instead of staying behind: those of its own stem (cat.png for cat.json), and the one its
// "image" key names when the text is at least JSON.
std::vector<std::string> Daemon::Impl::images_of_rejected(const std::string& manifest) const {
    std::vector<std::string> out;
    const std::string stem = stem_of(manifest);
    for (const char* ext : {".png", ".jpg", ".jpeg", ".webp", ".PNG", ".JPG", ".JPEG", ".WEBP"}) {
        struct stat st;
        const std::string file = stem + ext;
        if (::lstat((cfg.paths.inbox + "/" + file).c_str(), &st) == 0 && S_ISREG(st.st_mode))
            out.push_back(file);
    }
    auto text = fs::read_file(cfg.paths.inbox + "/" + manifest, 1u << 20);
    auto j = text ? nlohmann::json::parse(*text, nullptr, false) : nlohmann::json();
    if (j.is_object() && j.contains("image") && j["image"].is_string()) {
        std::string image = j["image"].get<std::string>();
        if (!image.empty() && image.find('/') == std::string::npos && image != manifest &&
            intake::is_image_name(image) && std::find(out.begin(), out.end(), image) == out.end())
            out.push_back(image);
    }
    return out;
}

// A manifest renamed in is taken at once, before `intake.settle` has passed. When it cannot be
// taken, what it names or brings along may still be arriving (its image, moved in after it): it
// is rejected only once it is `settle` old, so the rejection is the one the complete drop earns
// and takes its images to failed/. Returns how long that still is.
static std::optional<Millis> younger_than_settle(const std::string& path, Millis settle) {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return std::nullopt;
    const Millis age = fs::age_of(st);
    if (age < Millis{0} || age >= settle) return std::nullopt;
    return settle - age;
}

void Daemon::Impl::intake_one(const std::string& name) {
    if (stopping) return;
    const std::string path = cfg.paths.inbox + "/" + name;
    auto spec = read_manifest(path, cfg.paths.inbox, cfg, remix_lookup(cfg.paths.outbox));
    if (!spec)
        if (auto wait = younger_than_settle(path, cfg.intake.settle)) {
            spdlog::debug("inbox: {} cannot be taken yet ({}); looking again", name,
                          spec.error().front().code);
            watcher->forget(name, *wait);
            return;
        }
    if (spec && hold(name, spec->priority)) return;  // stays in the inbox until jobs finish
    std::vector<std::string> companions;
    // An image beside the manifest travels with it into the claim (and on to failed/). One
    // in a subfolder or behind a symlink may be shared by other manifests: it is copied.
    std::string image_name;
    bool copy_image = false;
    if (spec) {
        companions = spec->companion_files;
        if (!spec->image.empty()) {
            std::string given =
                spec->image_original.empty() ? base_name(spec->image) : spec->image_original;
            image_name = base_name(given);
            struct stat st;
            std::string beside = cfg.paths.inbox + "/" + given;
            copy_image = given.find('/') != std::string::npos ||
                         ::lstat(beside.c_str(), &st) != 0 || !S_ISREG(st.st_mode);
            if (copy_image)
                std::erase(companions, image_name);
            else if (std::find(companions.begin(), companions.end(), image_name) ==
                     companions.end())
                companions.push_back(image_name);
        }
    }
    if (!spec) companions = images_of_rejected(name);
    auto claim = store->claim(cfg.paths.inbox, name, companions);
    watcher->forget(name);
    if (!claim) {
        if (claim.error().kind != ClaimError::Kind::taken)
            spdlog::error("inbox: could not claim {}: {}", name, claim.error().message);
        return;
    }
    if (!spec) {
        std::string message;
        for (const auto& p : spec.error())
            message += (message.empty() ? "" : "; ") + p.format();
        reject(*claim, name, spec.error().front().code, message,
               "fix the manifest and drop it into the inbox again");
        return;
    }
    spec->manifest_file = name;
    spec->companion_files = companions;
    if (!spec->image.empty()) {
        std::string original = claim->dir + "/" + image_name;
        if (copy_image) {
            std::error_code ec;
            std::filesystem::copy_file(spec->image, original,
                                       std::filesystem::copy_options::overwrite_existing, ec);
            if (ec) {
                reject(*claim, name, "image_missing",
                       name + ": image: cannot copy " + spec->image + ": " + ec.message(),
                       "check that the image exists and is readable", spec->manifest);
                return;
            }
            claim->companions.push_back(image_name);  // goes to failed/ with the manifest
        }
        spec->image_original = image_name;
        auto sha = sha256_file(original);
        if (!sha) {
            reject(*claim, name, "image_missing", sha.error(), "drop the image beside the manifest",
                   spec->manifest);
            return;
        }
        spec->image_sha256 = *sha;
        // On the threadpool, one at a time: a large photo takes a good part of a second of CPU
        // and hundreds of MB while it is decoded. A stop meanwhile leaves the claim without a
        // record, so it goes back to the inbox at the next start, as after a crash.
        const std::string fitted = claim->dir + "/.fitted.png";
        auto result = std::make_shared<tl::expected<FitResult, std::string>>();
        fits->submit(
            [result, original, fitted, size = spec->size, fit = spec->image_fit,
             max_pixels = cfg.intake.max_image_pixels] {
                *result = fit_image(original, size, fit, fitted, max_pixels);
            },
            [this, result, fitted, claim = *claim, name, spec = *spec](int status) mutable {
                if (stopping) return;
                if (status < 0 || !*result) {
                    std::string why = status < 0 ? uv_strerror(status) : result->error();
                    reject(claim, name, "image_mismatch", name + ": image: " + why,
                           "resize the image, or set image_fit = \"cover\" or \"contain\"",
                           spec.manifest);
                } else {
                    spec.image = fitted;
                    admit(claim, std::move(spec));
                }
                maybe_finish();
            });
        return;
    }
    admit(*claim, std::move(*spec));
}

// A claimed, validated manifest becomes a job.
void Daemon::Impl::admit(const Claim& claim, JobSpec spec) {
    auto note = read_refetch_note(cfg.paths.state, spec.name);
    if (note && note->provider == spec.provider && note->prompt == spec.prompt) {
        spec.refetch_video_id = note->video_id;
        spec.refetch_key_slot = note->key_slot;
    }
    after(exec->engine().add(claim.id, std::move(spec), clock.now()));
    // The job record holds the video id now; the note has done its work.
    if (note) remove_refetch_note(cfg.paths.state, note->name);
}

// Claims without a job record: a crash came between the claim and the first save, so
// nothing was sent. Their files go back to the inbox and are taken (and validated) again.
void Daemon::Impl::return_orphans() {
    for (const auto& id : store->orphan_claims()) {
        std::vector<std::string> copies;
        // An image kept in a subfolder of the inbox was copied into the claim: drop the copy.
        std::string dir = store->claimed_dir(id);
        for (const auto& name : list_files(dir))
            if (is_manifest_name(name))
                if (auto spec = read_manifest(dir + "/" + name, cfg.paths.inbox, cfg);
                    spec && spec->image_original.find('/') != std::string::npos)
                    copies.push_back(base_name(spec->image_original));
        auto moved = store->unclaim(id, cfg.paths.inbox, copies);
        if (!moved) {
            spdlog::error(
                "state: claim {} has no job record and could not go back to the "
                "inbox: {}",
                id, moved.error());
            continue;
        }
        std::string names;
        for (const auto& n : *moved)
            names += (names.empty() ? "" : ", ") + n;
        spdlog::warn(
            "state: claim {} was cut short by a stop before its job was recorded; "
            "returned to the inbox: {}",
            id, names.empty() ? "nothing left to return" : names);
    }
}

// A manifest that cannot become a job: straight to failed/ with the reason.
// `manifest` is the manifest as read, when it parsed.
void Daemon::Impl::reject(const Claim& claim, const std::string& name, const std::string& code,
                          const std::string& message, const std::string& hint,
                          const nlohmann::json& manifest) {
    // Through the engine like any failure: recorded as failed, then moved to failed/ by the
    // Fail command (done again after a crash, so a rejection is never half done).
    JobSpec spec;
    spec.name = stem_of(name);
    spec.manifest_file = name;
    spec.companion_files = claim.companions;
    spec.manifest = manifest;
    spdlog::warn("inbox: {} rejected: {}", name, message);
    after(exec->engine().reject(claim.id, std::move(spec), JobError::validate(code, message, hint),
                                clock.now()),
          false);
}

void Daemon::Impl::on_reject(const std::string& name, const std::string& reason) {
    if (stopping) return;
    auto claim = store->claim(cfg.paths.inbox, name, {});
    watcher->forget(name);
    if (!claim) {
        if (claim.error().kind != ClaimError::Kind::taken)
            spdlog::error("inbox: could not claim {}: {}", name, claim.error().message);
        maybe_finish();
        return;
    }
    reject(*claim, name, "rejected", name + ": " + reason,
           "drop a regular file (no symlink) with a valid name and size");
    maybe_finish();
}

// Cancel requests: `videodrop cancel NAME` leaves STATE/cancel/NAME.
void Daemon::Impl::apply_cancels() {
    if (notifier) notifier->scan();  // `cancel` of a manifest not claimed yet leaves a notice
    for (const auto& name : cancel_requests::pending(cfg.paths.state)) {
        std::vector<std::string> ids;
        for (const auto& [id, job] : exec->engine().jobs())
            if (job.spec.name == name && !is_terminal(job.state)) ids.push_back(id);
        for (const auto& id : ids) {
            spdlog::info("job={} cancelled by request", name);
            after(exec->engine().cancel(id, clock.now()));
        }
        cancel_requests::done(cfg.paths.state, name);
    }
}

void Daemon::Impl::on_cancel_timer(uv_timer_t* t) {
    auto* self = static_cast<Impl*>(t->data);
    self->apply_cancels();
}

// `cancel` leaves requests (and, for a manifest not claimed yet, a notice) in two folders; a
// change notice brings them in within kRequestDebounce, and nothing wakes the daemon meanwhile.
void Daemon::Impl::watch_requests() {
    const std::string dirs[2] = {cancel_requests::folder(cfg.paths.state),
                                 notice_dir(cfg.paths.state)};
    bool watched = true;
    for (int i = 0; i < 2; ++i) {
        auto* w = new uv_fs_event_t;
        uv_fs_event_init(loop, w);
        w->data = this;
        int rc = fs::make_dirs(dirs[i], 0700)
                     ? uv_fs_event_start(w, &Impl::on_request_event, dirs[i].c_str(), 0)
                     : UV_ENOENT;
        request_watches[i] = w;
        if (rc < 0) {
            spdlog::warn("state: cannot watch {} ({}); looking every {} ms", dirs[i],
                         uv_strerror(rc), kCancelPoll.count());
            watched = false;
        }
    }
    if (!watched)
        uv_timer_start(cancels, &Impl::on_cancel_timer, kCancelPoll.count(), kCancelPoll.count());
}

void Daemon::Impl::unwatch_requests() {
    for (auto*& w : request_watches) {
        if (!w) continue;
        uv_fs_event_stop(w);
        uv_close(reinterpret_cast<uv_handle_t*>(w),
                 [](uv_handle_t* h) { delete reinterpret_cast<uv_fs_event_t*>(h); });
        w = nullptr;
    }
}

void Daemon::Impl::on_request_event(uv_fs_event_t* handle, const char*, int, int) {
    auto* self = static_cast<Impl*>(handle->data);
    if (self->stopping || uv_is_active(reinterpret_cast<uv_handle_t*>(self->cancels))) return;
    uv_timer_start(self->cancels, &Impl::on_cancel_timer, kRequestDebounce.count(), 0);
}

void Daemon::Impl::on_metrics_timer(uv_timer_t* t) {
    static_cast<Impl*>(t->data)->write_metrics();
}

// [metrics] textfile: rewritten every few seconds and at stop; a failure is logged once.
void Daemon::Impl::write_metrics() {
    if (cfg.metrics_textfile.empty() || !exec) return;
    MetricsSnapshot m;
    for (int s = 0; s <= static_cast<int>(State::cancelled); ++s)
        m.jobs_by_state[std::string(to_string(static_cast<State>(s)))] = 0;
    for (const auto& [id, job] : exec->engine().jobs())
        ++m.jobs_by_state[std::string(to_string(job.state))];
    for (const auto& [state, n] : exec->engine().finished())
        m.jobs_by_state[std::string(to_string(state))] += n;
    m.delivered = exec->delivered();
    m.failed = exec->failed();
    TimePoint now = clock.now();
    m.spend_today_usd = exec->engine().ledger().on_day(now);
    m.spend_total_usd = exec->engine().ledger().total();
    for (const auto& [name, keys] : exec->engine().scheduler().keys()) {
        m.provider_paused[name] = exec->engine().scheduler().paused(name);
        int64_t sent = 0;
        for (const auto& k : keys)
            sent += k.creates_sent;
        m.creates_sent[name] = sent;
    }
    m.updated_unix_seconds = double(to_ms(now)) / 1000.0;
    auto written = fs::write_atomic(cfg.metrics_textfile, format_metrics(m));
    if (!written && !metrics_warned) {
        spdlog::warn("metrics: {} (the daemon carries on without them)", written.error());
        metrics_warned = true;
    } else if (written) {
        metrics_warned = false;
    }
}

}  // namespace vd
