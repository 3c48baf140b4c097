#include "daemon/sidecar.hpp"

#include <sys/stat.h>
#include <time.h>

#include <cmath>
#include <cstdio>

#include "daemon/delivery.hpp"
#include "daemon/fsutil.hpp"

namespace vd {
namespace {

using nlohmann::json;

// Costs are products of decimal prices: 0.1 * 12 should read 1.2, not 1.2000000000000002.
double round6(double v) {
    return std::round(v * 1e6) / 1e6;
}

// 30.0 fps reads as 30, as in the documented example; 29.97 stays as it is.
json number(double v) {
    if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 1e15)
        return static_cast<int64_t>(v);
    return v;
}

json time_or_null(TimePoint t) {
    return to_ms(t) == 0 ? json() : json(iso8601_utc(t));
}

json string_or_null(const std::string& s) {
    return s.empty() ? json() : json(s);
}

// "cdn.example.com" of "https://user@cdn.example.com:8443/v.mp4?sig=..."; "" when none.
std::string url_host(const std::string& url) {
    auto scheme = url.find("://");
    if (scheme == std::string::npos) return {};
    std::string rest = url.substr(scheme + 3);
    rest = rest.substr(0, rest.find_first_of("/?#"));
    if (auto at = rest.rfind('@'); at != std::string::npos) rest = rest.substr(at + 1);
    if (!rest.empty() && rest.front() == '[') return rest.substr(0, rest.find(']') + 1);
    return rest.substr(0, rest.find(':'));
}

json media_json(const MediaInfo& m) {
    json audio;
    if (m.has_audio)
        audio = {
            {"codec", m.audio_codec}, {"sample_rate", m.sample_rate}, {"channels", m.channels}};
    return {{"container", m.container},
            {"duration", std::round(m.duration * 1000) / 1000},
            {"video",
             {{"codec", m.video_codec},
              {"width", m.width},
              {"height", m.height},
              {"fps", number(std::round(m.fps * 1000) / 1000)},
              {"frames", m.frames}}},
            {"audio", audio}};
}

// Each shot as made: what it asked for, the provider's video, the file that was joined.
json storyboard_json(const Job& job, const std::vector<Job>& shots) {
    if (shots.empty()) return nullptr;
    json list = json::array();
    for (const Job& shot : shots)
        list.push_back({{"shot", shot.shot + 1},
                        {"prompt", shot.spec.prompt},
                        {"seconds", shot.spec.seconds},
                        {"video_id", shot.video_id},
                        {"request_ids", shot.request_ids},
                        {"cost_usd", round6(shot.cost_usd)},
                        {"duration", std::round(shot.media.duration * 1000) / 1000},
                        {"bytes", shot.media.bytes},
                        {"sha256", shot.media.sha256}});
    return {{"continuity", job.spec.continuity ? json("last-frame") : json(nullptr)},
            {"joined", "stream copy"},
            {"shots", list}};
}

}  // namespace

json make_sidecar(const Job& job, const std::string& stem, TimePoint delivered,
                  const std::string& version, const std::vector<Job>& shots) {
    const JobSpec& s = job.spec;
    json input_reference;
    if (!s.image_original.empty())
        input_reference = {
            {"file", s.image_original}, {"sha256", s.image_sha256}, {"fit", s.image_fit}};

    json variants = json::object();
    for (const auto& v : job.variants_done)
        if (v != "video") variants[v] = delivery::output_file(stem, v);

    return {
        {"schema", "videodrop.sidecar/1"},
        {"name", stem},
        // The job's own name when its output had to take another one ("cat" -> "cat-2").
        {"renamed_from", stem != s.name ? json(s.name) : json(nullptr)},
        {"status", "completed"},
        {"manifest", s.manifest},
        {"request",
         {{"provider", s.provider},
          {"model", s.model},
          {"seconds", s.seconds},
          {"size", to_string(s.size)},
          {"prompt", s.prompt},
          {"input_reference", input_reference}}},
        {"provider",
         {{"video_id", job.video_id},
          {"remixed_from", string_or_null(s.remix_of)},
          {"request_ids", job.request_ids},
          {"protocol", string_or_null(job.protocol)},
          // The model as the provider named it (a chat-sse server's wire name), and the host the
          // video came from when it was a link: never the link itself, which may be signed.
          {"served_model", string_or_null(job.served_model)},
          {"result_host", string_or_null(url_host(job.result_url))}}},
        {"timing",
         {{"discovered", time_or_null(job.discovered)},
          {"submitted", time_or_null(job.submitted)},
          {"completed", time_or_null(job.completed)},
          {"delivered", time_or_null(delivered)}}},
        {"attempts",
         {{"submit", job.submit_attempts},
          {"download", job.download_attempts},
          {"polls", job.polls}}},
        {"cost",
         {{"usd", round6(job.cost_usd)},
          {"usd_per_second", s.seconds > 0 ? round6(job.cost_usd / s.seconds) : 0.0},
          {"seconds", s.seconds},
          {"estimated", true},
          // What the provider said it billed (usage.cost), beside the estimate; null when it
          // did not say.
          {"reported_usd",
           job.reported_cost_usd ? json(round6(*job.reported_cost_usd)) : json(nullptr)}}},
        {"file",
         {{"name", delivery::output_file(stem, "video")},
          {"bytes", job.media.bytes},
          {"sha256", job.media.sha256}}},
        {"media", media_json(job.media)},
        {"variants", variants},
        {"storyboard", storyboard_json(job, shots)},
        {"meta", s.meta.is_null() ? json::object() : s.meta},
        {"videodrop", {{"version", version}}},
    };
}

tl::expected<std::optional<RemixSource>, std::string> read_remix_source(const std::string& outbox,
                                                                        const std::string& name) {
    const std::string path = outbox + "/" + name + ".json";
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::optional<RemixSource>();
    auto text = fs::read_file(path, 16u << 20);
    if (!text) return tl::unexpected("its sidecar " + path + " cannot be read: " + text.error());
    auto sidecar = json::parse(*text, nullptr, false);
    if (sidecar.is_discarded() || !sidecar.is_object())
        return tl::unexpected("its sidecar " + path + " is not valid JSON");
    auto id = sidecar.value(json::json_pointer("/provider/video_id"), json());
    if (!id.is_string() || id.get<std::string>().empty())
        return tl::unexpected("its sidecar " + path + " has no provider.video_id");
    RemixSource source;
    source.video_id = id.get<std::string>();
    auto seconds = sidecar.value(json::json_pointer("/request/seconds"), json());
    auto size = sidecar.value(json::json_pointer("/request/size"), json());
    if (seconds.is_number_integer()) source.seconds = seconds.get<int>();
    if (size.is_string()) source.size = parse_size(size.get<std::string>());
    return std::optional<RemixSource>(std::move(source));
}

RemixLookup remix_lookup(const std::string& outbox) {
    return [outbox](const std::string& name) { return read_remix_source(outbox, name); };
}

json make_error(const std::string& name, const json& manifest, const JobError& e) {
    json out = {
        {"schema", "videodrop.error/1"},
        {"name", name},
        {"manifest", manifest},
        {"error",
         {{"stage", e.stage},
          {"code", e.code},
          {"message", e.message},
          {"http_status", e.http_status > 0 ? json(e.http_status) : json()},
          {"provider_error", e.provider_error},
          {"request_id", string_or_null(e.request_id)},
          {"retryable", e.retryable},
          {"hint", e.hint}}},
    };
    if (!e.video_id.empty()) {  // made and paid for: `retry` fetches it again
        out["error"]["video_id"] = e.video_id;
        out["error"]["key_slot"] = e.key_slot;
    }
    // A storyboard's shots as far as they got: `paid` ones reached the provider.
    if (e.shots.is_array()) out["shots"] = e.shots;
    return out;
}

}  // namespace vd
