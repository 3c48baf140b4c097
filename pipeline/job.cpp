#include "pipeline/job.hpp"

#include <array>

namespace vd {

namespace {

constexpr std::array<std::pair<State, std::string_view>, 13> kStates{{
    {State::claimed, "claimed"},
    {State::waiting, "waiting"},
    {State::submitting, "submitting"},
    {State::reconciling, "reconciling"},
    {State::queued, "queued"},
    {State::in_progress, "in_progress"},
    {State::downloading, "downloading"},
    {State::joining, "joining"},
    {State::verifying, "verifying"},
    {State::delivering, "delivering"},
    {State::delivered, "delivered"},
    {State::failed, "failed"},
    {State::cancelled, "cancelled"},
}};

// [[slot, ms since epoch], ...]: one small pair per create of the last minute.
nlohmann::json recent_creates_json(const std::vector<Job::SentCreate>& creates) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& c : creates)
        out.push_back({c.slot, to_ms(c.at)});
    return out;
}

std::vector<Job::SentCreate> recent_creates_of(const nlohmann::json& j) {
    std::vector<Job::SentCreate> out;
    auto it = j.find("recent_creates");
    if (it == j.end() || !it->is_array()) return out;
    for (const auto& c : *it)
        if (c.is_array() && c.size() == 2 && c[0].is_number_integer() && c[1].is_number_integer())
            out.push_back({c[0].get<int>(), from_ms(c[1].get<int64_t>())});
    return out;
}

}  // namespace

std::string_view to_string(State s) {
    for (const auto& [state, name] : kStates)
        if (state == s) return name;
    return "unknown";
}

std::optional<State> parse_state(std::string_view s) {
    for (const auto& [state, name] : kStates)
        if (name == s) return state;
    return std::nullopt;
}

bool is_terminal(State s) {
    return s == State::delivered || s == State::failed || s == State::cancelled;
}

bool is_in_flight(State s) {
    return s == State::submitting || s == State::reconciling || s == State::queued ||
           s == State::in_progress;
}

NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(Size, width, height)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(MediaInfo, opened, open_error, container, duration,
                                                has_video, video_codec, width, height, fps, frames,
                                                video_packets, last_video_pts, demux_error,
                                                demux_message, has_audio, audio_codec, sample_rate,
                                                channels, bytes, sha256, decoded, decoded_frames,
                                                decode_errors, decode_message)

JobError JobError::make(std::string stage, std::string code, std::string message,
                        std::string hint) {
    JobError e;
    e.stage = std::move(stage);
    e.code = std::move(code);
    e.message = std::move(message);
    e.hint = std::move(hint);
    return e;
}

#define VD_STAGE(name)                                                                 \
    JobError JobError::name(std::string code, std::string message, std::string hint) { \
        return make(#name, std::move(code), std::move(message), std::move(hint));      \
    }
VD_STAGE(intake)
VD_STAGE(validate)
VD_STAGE(budget)
VD_STAGE(submit)
VD_STAGE(generate)
VD_STAGE(download)
VD_STAGE(verify)
VD_STAGE(deliver)
#undef VD_STAGE

void to_json(nlohmann::json& j, const JobError& e) {
    j = {{"stage", e.stage},
         {"code", e.code},
         {"message", e.message},
         {"http_status", e.http_status},
         {"provider_error", e.provider_error},
         {"request_id", e.request_id},
         {"retryable", e.retryable},
         {"hint", e.hint}};
    if (!e.video_id.empty()) {
        j["video_id"] = e.video_id;
        j["key_slot"] = e.key_slot;
    }
    if (!e.shots.is_null()) j["shots"] = e.shots;
}

void from_json(const nlohmann::json& j, JobError& e) {
    e.stage = j.value("stage", "");
    e.code = j.value("code", "");
    e.message = j.value("message", "");
    e.http_status = j.value("http_status", 0);
    e.provider_error = j.value("provider_error", nlohmann::json());
    e.request_id = j.value("request_id", "");
    e.retryable = j.value("retryable", false);
    e.hint = j.value("hint", "");
    e.video_id = j.value("video_id", "");
    e.key_slot = j.value("key_slot", 0);
    e.shots = j.value("shots", nlohmann::json());
}

void to_json(nlohmann::json& j, const JobSpec& s) {
    j = {{"name", s.name},
         {"provider", s.provider},
         {"model", s.model},
         {"seconds", s.seconds},
         {"size", to_string(s.size)},
         {"prompt", s.prompt},
         {"image", s.image},
         {"image_original", s.image_original},
         {"image_sha256", s.image_sha256},
         {"image_fit", s.image_fit},
         {"remix_of", s.remix_of},
         {"refetch_video_id", s.refetch_video_id},
         {"refetch_key_slot", s.refetch_key_slot},
         {"priority", s.priority},
         {"variants", s.variants},
         {"meta", s.meta},
         {"continuity", s.continuity},
         {"manifest", s.manifest},
         {"manifest_file", s.manifest_file},
         {"companion_files", s.companion_files}};
    if (!s.shots.empty()) {
        auto& shots = j["shots"] = nlohmann::json::array();
        for (const auto& shot : s.shots)
            shots.push_back({{"seconds", shot.seconds}, {"prompt", shot.prompt}});
    }
}

void from_json(const nlohmann::json& j, JobSpec& s) {
    s.name = j.value("name", "");
    s.provider = j.value("provider", "");
    s.model = j.value("model", "");
    s.seconds = j.value("seconds", 0);
    s.size = parse_size(j.value("size", "")).value_or(Size{});
    s.prompt = j.value("prompt", "");
    s.image = j.value("image", "");
    s.image_original = j.value("image_original", "");
    s.image_sha256 = j.value("image_sha256", "");
    s.image_fit = j.value("image_fit", "cover");
    s.remix_of = j.value("remix_of", "");
    s.refetch_video_id = j.value("refetch_video_id", "");
    s.refetch_key_slot = j.value("refetch_key_slot", 0);
    s.priority = j.value("priority", 0);
    s.variants = j.value("variants", std::vector<std::string>{});
    s.meta = j.value("meta", nlohmann::json::object());
    s.continuity = j.value("continuity", false);
    s.shots.clear();
    for (const auto& shot : j.value("shots", nlohmann::json::array()))
        s.shots.push_back(Shot{shot.value("seconds", 0), shot.value("prompt", "")});
    s.manifest = j.value("manifest", nlohmann::json::object());
    s.manifest_file = j.value("manifest_file", "");
    s.companion_files = j.value("companion_files", std::vector<std::string>{});
}

void to_json(nlohmann::json& j, const Job& job) {
    j = {{"id", job.id},
         {"spec", job.spec},
         {"seq", job.seq},
         {"state", to_string(job.state)},
         {"why", job.why},
         {"wait", job.wait},
         {"key_slot", job.key_slot},
         {"video_id", job.video_id},
         {"status_word", job.status_word},
         {"protocol", job.protocol},
         {"served_model", job.served_model},
         {"progress", job.progress},
         {"result_url", job.result_url},
         {"poll_url", job.poll_url},
         {"request_ids", job.request_ids},
         {"discovered", to_ms(job.discovered)},
         {"submit_sent", to_ms(job.submit_sent)},
         {"submitted", to_ms(job.submitted)},
         {"progress_seen", to_ms(job.progress_seen)},
         {"completed", to_ms(job.completed)},
         {"delivered", to_ms(job.delivered)},
         {"expires", job.expires ? nlohmann::json(to_ms(*job.expires)) : nlohmann::json()},
         {"next_action", to_ms(job.next_action)},
         {"progress_at_first_seen", job.progress_at_first_seen},
         {"first_submit", to_ms(job.first_submit)},
         {"submit_attempts", job.submit_attempts},
         {"resubmits", job.resubmits},
         {"ambiguity", job.ambiguity},
         {"download_attempts", job.download_attempts},
         {"polls", job.polls},
         {"retries", job.retries},
         {"list_pages", job.list_pages},
         {"reconcile_passes", job.reconcile_passes},
         {"recent_creates", recent_creates_json(job.recent_creates)},
         {"cost_usd", job.cost_usd},
         {"reported_cost_usd",
          job.reported_cost_usd ? nlohmann::json(*job.reported_cost_usd) : nlohmann::json()},
         {"charged", job.charged},
         {"variants_done", job.variants_done},
         {"variants_missing", job.variants_missing},
         {"output_name", job.output_name},
         {"media", job.media},
         {"error", job.error ? nlohmann::json(*job.error) : nlohmann::json()}};
    if (!job.children.empty()) j["children"] = job.children;
    if (!job.parent.empty()) {
        j["parent"] = job.parent;
        j["shot"] = job.shot;
        j["needs_frame"] = job.needs_frame;
    }
}

void from_json(const nlohmann::json& j, Job& job) {
    auto at = [&](const char* key) { return from_ms(j.value(key, int64_t{0})); };
    job.id = j.at("id").get<std::string>();
    job.spec = j.at("spec").get<JobSpec>();
    job.seq = j.value("seq", uint64_t{0});
    auto state = parse_state(j.at("state").get<std::string>());
    if (!state) throw nlohmann::json::other_error::create(501, "unknown job state", &j);
    job.state = *state;
    job.why = j.value("why", "");
    if (auto w = j.find("wait"); w != j.end() && w->is_object()) job.wait = w->get<Wait>();
    job.key_slot = j.value("key_slot", 0);
    job.video_id = j.value("video_id", "");
    job.status_word = j.value("status_word", "");
    job.protocol = j.value("protocol", "");
    job.served_model = j.value("served_model", "");
    job.progress = j.value("progress", 0);
    job.result_url = j.value("result_url", "");
    job.poll_url = j.value("poll_url", "");
    job.request_ids = j.value("request_ids", std::vector<std::string>{});
    job.discovered = at("discovered");
    job.submit_sent = at("submit_sent");
    job.submitted = at("submitted");
    job.progress_seen = at("progress_seen");
    job.completed = at("completed");
    job.delivered = at("delivered");
    if (j.contains("expires") && j["expires"].is_number()) job.expires = at("expires");
    job.next_action = at("next_action");
    job.progress_at_first_seen = j.value("progress_at_first_seen", 0);
    job.first_submit = at("first_submit");
    job.submit_attempts = j.value("submit_attempts", 0);
    job.resubmits = j.value("resubmits", 0);
    job.ambiguity = j.value("ambiguity", "");
    job.download_attempts = j.value("download_attempts", 0);
    job.polls = j.value("polls", 0);
    job.retries = j.value("retries", 0);
    job.list_pages = j.value("list_pages", 0);
    job.reconcile_passes = j.value("reconcile_passes", 0);
    job.recent_creates = recent_creates_of(j);
    job.cost_usd = j.value("cost_usd", 0.0);
    if (auto c = j.find("reported_cost_usd"); c != j.end() && c->is_number())
        job.reported_cost_usd = c->get<double>();
    job.charged = j.value("charged", false);
    job.variants_done = j.value("variants_done", std::vector<std::string>{});
    job.variants_missing = j.value("variants_missing", std::vector<std::string>{});
    job.output_name = j.value("output_name", "");
    job.media = j.value("media", MediaInfo{});
    if (j.contains("error") && j["error"].is_object()) job.error = j["error"].get<JobError>();
    job.children = j.value("children", std::vector<std::string>{});
    job.parent = j.value("parent", "");
    job.shot = j.value("shot", 0);
    job.needs_frame = j.value("needs_frame", false);
}

}  // namespace vd
