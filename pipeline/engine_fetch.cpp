// Fetching and verifying: downloads of the video and its variants, the probe, publishing.
//
// A finished video is paid for, so a bad fetch never ends it quickly: every fetch of the video,
// a failed transfer or a failed verification alike, counts against one budget
// (verify.max_download_attempts) with a backoff that doubles from verify.download_backoff, so
// the attempts span minutes of the hour a provider keeps a finished video. Then the job fails
// with its video id, and `retry` fetches that video again instead of paying for a new one.
#include "pipeline/engine.hpp"

#include <algorithm>

#include "pipeline/engine_util.hpp"

namespace vd {

using namespace engine_detail;

namespace {
constexpr int kMaxVariantFetches = 5;  // failed fetches of a thumbnail or spritesheet
constexpr Millis kMaxDownloadBackoff{10 * 60 * 1000};

constexpr int64_t kMiB = 1024 * 1024;

// What one fetch may cost: a video body of seconds x the bitrate ceiling (plus room for the
// container), 32 MiB for a still or spritesheet; and the time a transfer at the lowest allowed
// speed would need for that many bytes.
Download bounded(Download d, const JobSpec& spec, const DownloadSettings& s) {
    // A length not known yet (a remix whose source said none) counts as a minute.
    const int seconds = spec.seconds > 0 ? spec.seconds : 60;
    if (d.variant == "video")
        d.max_bytes = static_cast<int64_t>(seconds * s.max_mbit_per_second * 125000.0) + 8 * kMiB;
    else
        d.max_bytes = 32 * kMiB;
    d.min_bytes_per_second = s.min_bytes_per_second;
    d.low_speed_time = s.low_speed_time;
    d.deadline = s.low_speed_time +
                 Millis{d.max_bytes * 1000 / std::max<int64_t>(1, s.min_bytes_per_second)};
    return d;
}

}  // namespace

void Engine::start_download(Job& job, TimePoint now, Commands& out) {
    const ProviderSettings* pp = provider_or_fail(job, out);
    if (!pp) return;
    const ProviderSettings& p = *pp;
    std::string variant;
    if (!contains(job.variants_done, "video")) {
        variant = "video";
    } else {
        for (const auto& v : job.spec.variants)
            if (!contains(job.variants_done, v) && !contains(job.variants_missing, v)) {
                variant = v;
                break;
            }
    }
    if (variant.empty()) {
        enter(job, State::verifying, "", out);  // probes the video
        return;
    }
    HttpRequest req;
    if (variant == "video" && !job.result_url.empty() && !job.link_fresh &&
        protocol_of(p)->polls()) {
        // Signed links expire: a link not read just now (a retry, a restart) is read again.
        job.awaiting = true;
        out.push_back(SendHttp{job.id, Purpose::poll, status_request(job, p)});
        return;
    }
    if (variant == "video" && !job.result_url.empty()) {
        // A dialect's direct link: the shell sends the key only to the provider's own host.
        job.link_fresh = false;
        req.url = job.result_url;
        req.provider = p.name;
        req.key_slot = job.key_slot;
        req.authenticated = p.dialect.url_gets_key;
    } else {
        req = protocol_of(p)->content(p, job.video_id, variant, job.key_slot);
    }
    if (variant == "video") {
        job.download_attempts++;
        out.push_back(Persist{job});  // the count holds across restarts
    }
    (void)now;
    job.awaiting = true;
    Download d;
    d.job = job.id;
    d.variant = variant;
    d.request = std::move(req);
    out.push_back(bounded(std::move(d), job.spec, settings_.download));
}

void Engine::on_link_refresh(Job& job, const HttpResult& r, TimePoint now, Commands& out) {
    const ProviderSettings* p = provider_or_fail(job, out);
    if (!p) return;
    // One look: whatever it says, the fetch goes ahead (and counts) next.
    job.link_fresh = true;
    job.next_action = now;
    auto c = classify(*p, r, false, now, "job=" + job.spec.name, out);
    auto v = c.cls == protocol::ErrorClass::ok ? protocol_of(*p)->video(r, p->dialect)
                                               : tl::make_unexpected(protocol::ParseError{c.code});
    if (!v) {
        out.push_back(job_log(Log::info, job,
                              " could not read the video again (" + v.error().message +
                                  "); fetching the link as it was"));
        return;
    }
    if (v->status == protocol::VideoStatus::failed ||
        v->status == protocol::VideoStatus::cancelled) {
        fail_download(job,
                      JobError::download("expired", "the provider now reports the video as '" +
                                                        v->status_word + "'"),
                      out);
        return;
    }
    if (v->expires_at) job.expires = from_ms(*v->expires_at * 1000);
    if (v->cost_usd) job.reported_cost_usd = v->cost_usd;
    // No link in the video: it came from the content endpoint, which gives a fresh one.
    job.result_url = v->result_url;
    job.link_fresh = !job.result_url.empty();
}

// The video stays with the provider: the failure names it so that `retry` fetches it again.
void Engine::fail_download(Job& job, JobError e, Commands& out) {
    const ProviderSettings* p = provider(job);
    if (p && !protocol_of(*p)->polls()) {
        // Nothing to read again by id: `retry` generates anew.
        if (e.hint.empty())
            e.hint =
                "the provider gave a link only, which cannot be asked for again; `videodrop "
                "retry NAME` generates the video anew (and pays again)";
        fail(job, std::move(e), out);
        return;
    }
    e.video_id = job.video_id;
    e.key_slot = job.key_slot;
    if (e.hint.empty() && e.code != "expired")
        e.hint = "video " + job.video_id +
                 " is paid for; `videodrop retry NAME` fetches it again (no new charge) while " +
                 "the provider keeps it";
    fail(job, std::move(e), out);
}

void Engine::retry_download(Job& job, const std::string& why, std::optional<Millis> retry_after,
                            TimePoint now, Commands& out) {
    int n = std::max(0, job.download_attempts - 1);
    Millis base = settings_.verify.download_backoff;
    Millis delay = std::min(kMaxDownloadBackoff, base * (int64_t{1} << std::min(n, 10)));
    delay -= Millis{static_cast<int64_t>(double(delay.count()) * 0.25 * jitter())};
    delay = std::max(delay, retry_after.value_or(Millis{0}));
    job.variants_done.clear();
    job.next_action = now + delay;
    enter(job, State::downloading,
          why + "; fetch " + std::to_string(job.download_attempts + 1) + " of " +
              std::to_string(settings_.verify.max_download_attempts) + " in " + seconds_text(delay),
          out);
}

Commands Engine::on_download(const std::string& id, const std::string& variant,
                             const DownloadResult& r, TimePoint now) {
    Commands out;
    auto it = jobs_.find(id);
    if (it == jobs_.end() || it->second.state != State::downloading) return out;
    Job& job = it->second;
    job.awaiting = false;
    const ProviderSettings* p = provider_or_fail(job, out);
    if (!p) return out;
    auto c = classify(*p, r.http, false, now, "job=" + job.spec.name, out);
    const bool signed_link =
        variant == "video" && !job.result_url.empty() && !p->dialect.url_gets_key;
    if (signed_link && (c.cls == protocol::ErrorClass::terminal ||
                        c.cls == protocol::ErrorClass::provider_fatal)) {
        // A link that carries its own signature refuses because it expired, not because of the
        // key: the next fetch reads the video again for a new one.
        c.cls = protocol::ErrorClass::retryable;
        c.code = "link_refused_" + std::to_string(r.http.status);
    }
    if (c.cls == protocol::ErrorClass::ok &&
        r.http.content_type.find("json") != std::string::npos) {
        // Some gateways answer the content endpoint with a link instead of the bytes. It is
        // followed from the content endpoint only (a link answering a link is a failed fetch),
        // and the answer does not count as a fetch of the video.
        std::string link = protocol_of(*p)->content_link(r.http, p->dialect);
        if (variant == "video" && !link.empty() && job.result_url.empty()) {
            job.result_url = link;
            job.link_fresh = true;
            job.download_attempts = std::max(0, job.download_attempts - 1);
            job.next_action = now;
            return out;
        }
        c.cls = protocol::ErrorClass::retryable;
        c.code = "json_instead_of_video";
    }
    if (c.cls == protocol::ErrorClass::ok && r.bytes > 0) {
        job.retries = 0;
        job.variants_done.push_back(variant);
        job.next_action = now;
        return out;
    }
    if (c.cls == protocol::ErrorClass::ok) c.code = "empty_body";
    bool expired = job.expires && now > *job.expires;
    if (variant != "video") {
        if (++job.retries >= kMaxVariantFetches || expired) {
            out.push_back(
                job_log(Log::warn, job,
                        " " + variant + " not to be had (" + c.code + "); delivering without it"));
            job.variants_missing.push_back(variant);
            job.retries = 0;
            job.next_action = now;
            return out;
        }
        job.next_action =
            now + std::max(backoff(job.retries - 1, jitter(), settings_.polling.min_interval,
                                   settings_.polling.max_interval),
                           c.retry_after.value_or(Millis{0}));
        return out;
    }
    if (expired || job.download_attempts >= settings_.verify.max_download_attempts ||
        c.cls == protocol::ErrorClass::provider_fatal) {
        auto e = error_from("download", c, r.http);
        if (expired) e.code = "expired";
        if (!expired && c.cls != protocol::ErrorClass::provider_fatal)
            e.message += " (fetch " + std::to_string(job.download_attempts) + " of " +
                         std::to_string(settings_.verify.max_download_attempts) + ")";
        fail_download(job, std::move(e), out);
        return out;
    }
    out.push_back(job_log(Log::info, job, " download of the video failed (" + c.code + ")"));
    retry_download(job, "download failed: " + c.code, c.retry_after, now, out);
    return out;
}

Commands Engine::on_probe(const std::string& id, const MediaInfo& info, TimePoint now) {
    Commands out;
    auto it = jobs_.find(id);
    if (it == jobs_.end() || it->second.state != State::verifying) return out;
    Job& job = it->second;
    job.awaiting = false;
    Verdict v = evaluate(info, expectation(job.spec, settings_.verify));
    if (v.ok) {
        job.media = info;
        enter(job, State::delivering, "", out);  // publishes
        return out;
    }
    if (!job.children.empty()) {  // a joined storyboard: its shots are what there is
        JobError e = JobError::verify(v.code, "the joined storyboard: " + v.message,
                                      "`videodrop retry NAME` makes the storyboard again");
        e.shots = shot_records(job);
        fail(job, std::move(e), out);
        return out;
    }
    if (job.download_attempts < settings_.verify.max_download_attempts) {
        out.push_back(job_log(Log::warn, job,
                              " download failed verification (" + v.code + ": " + v.message + ")"));
        retry_download(job, "verification failed: " + v.code, std::nullopt, now, out);
        return out;
    }
    JobError e = JobError::verify(
        v.code, v.message + " (fetch " + std::to_string(job.download_attempts) + " of " +
                    std::to_string(settings_.verify.max_download_attempts) + ")");
    fail_download(job, std::move(e), out);
    return out;
}

Commands Engine::on_delivered(const std::string& id, const std::string& output_name,
                              TimePoint now) {
    Commands out;
    auto it = jobs_.find(id);
    if (it == jobs_.end() || it->second.state != State::delivering) return out;
    Job& job = it->second;
    job.output_name = output_name;
    job.delivered = now;
    enter(job, State::delivered, output_name + ".mp4", out);
    return out;
}

}  // namespace vd
