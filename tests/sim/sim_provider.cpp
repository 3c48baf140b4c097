#include "tests/sim/sim_provider.hpp"

#include <nlohmann/json.hpp>

namespace vd::sim {

namespace {

HttpResult json_answer(int status, const nlohmann::json& body, const std::string& rid) {
    HttpResult r;
    r.status = status;
    r.content_type = "application/json";
    r.body = body.dump();
    r.headers.emplace_back("x-request-id", rid);
    return r;
}

HttpResult error_answer(int status, const std::string& code, const std::string& message,
                        const std::string& rid) {
    return json_answer(status,
                       {{"error",
                         {{"message", message},
                          {"type", "invalid_request_error"},
                          {"param", nullptr},
                          {"code", code}}}},
                       rid);
}

std::string field(const HttpRequest& req, const std::string& name) {
    for (const auto& part : req.form)
        if (part.name == name) return part.value;
    if (!req.body.empty()) {
        auto j = nlohmann::json::parse(req.body, nullptr, false);
        if (j.is_object() && j.contains(name)) {
            return j[name].is_string() ? j[name].get<std::string>() : j[name].dump();
        }
    }
    return "";
}

std::string query_value(const std::string& query, const std::string& key) {
    size_t pos = 0;
    while (pos < query.size()) {
        size_t amp = query.find('&', pos);
        std::string kv =
            query.substr(pos, amp == std::string::npos ? std::string::npos : amp - pos);
        auto eq = kv.find('=');
        if (eq != std::string::npos && kv.substr(0, eq) == key) return kv.substr(eq + 1);
        if (amp == std::string::npos) break;
        pos = amp + 1;
    }
    return "";
}

}  // namespace

HttpResult Provider::handle(const HttpRequest& req, TimePoint now, bool& answered) {
    answered = true;
    std::string rid = "req_" + std::to_string(rng_.next() % 1000000000);
    HttpResult refused;
    refused.transport = TransportError::not_sent;
    refused.transport_message = "Connection refused";
    if (rng_.chance(faults_.not_sent)) return refused;
    if (req.key_slot == 0 && now >= faults_.revoked_from && now < faults_.revoked_until)
        return error_answer(401, "invalid_api_key", "Incorrect API key provided", rid);

    auto path_start = req.url.find("/v1/");
    std::string path = req.url.substr(path_start);
    std::string query;
    if (auto q = path.find('?'); q != std::string::npos) {
        query = path.substr(q + 1);
        path = path.substr(0, q);
    }
    bool is_create = req.method == "POST";
    bool lose = rng_.chance(faults_.lost_answer);
    bool fail5xx = !lose && rng_.chance(faults_.server_error);
    if (is_create) {
        if (rng_.chance(faults_.rate_limited)) {
            auto r = error_answer(429, "rate_limit_exceeded", "Rate limit reached", rid);
            r.headers.emplace_back("retry-after-ms", "1500");
            return r;
        }
        auto& w = window_[req.key_slot];
        while (!w.empty() && w.front() + Millis{60000} <= now)
            w.pop_front();
        if (faults_.provider_rpm > 0 && static_cast<int>(w.size()) >= faults_.provider_rpm) {
            auto r = error_answer(429, "rate_limit_exceeded", "Rate limit reached", rid);
            r.headers.emplace_back("retry-after", "2");
            return r;
        }
        bool takes_effect = !(lose || fail5xx) || rng_.chance(faults_.effect_before_loss);
        HttpResult r;
        if (takes_effect) {
            w.push_back(now);
            creates_[req.key_slot].push_back(now);
            r = create(req, now);
        }
        if (lose) {
            answered = false;
            return r;
        }
        if (fail5xx) return error_answer(502, "bad_gateway", "upstream error", rid);
        return r;
    }
    if (lose) {
        answered = false;
        return {};
    }
    if (fail5xx) return error_answer(503, "processing_error", "under heavy load", rid);
    if (path == "/v1/models")
        return json_answer(200, {{"object", "list"}, {"data", nlohmann::json::array()}}, rid);
    if (path == "/v1/videos") return list(query, now);
    const std::string prefix = "/v1/videos/";
    std::string rest = path.substr(prefix.size());
    std::string id = rest.substr(0, rest.find('/'));
    auto it = videos_.find(id);
    if (it == videos_.end()) return error_answer(404, "not_found", "no such video", rid);
    if (rest.ends_with("/content")) {
        const SimVideo& v = it->second;
        if (v.stalled || now < v.ready)
            return error_answer(409, "not_ready", "Task is not completed yet", rid);
        if (now > v.ready + Millis{3600 * 1000})
            return error_answer(404, "expired", "content expired", rid);
        HttpResult r;
        r.status = 200;
        r.content_type = query_value(query, "variant") == "video" ? "video/mp4" : "image/webp";
        r.headers.emplace_back("x-request-id", rid);
        return r;
    }
    auto r = video_json(it->second, now);
    r.headers.emplace_back("x-request-id", rid);
    return r;
}

HttpResult Provider::create(const HttpRequest& req, TimePoint now) {
    SimVideo v;
    v.id = "video_" + std::to_string(next_id_++);
    v.prompt = field(req, "prompt");
    v.model = field(req, "model");
    v.size = field(req, "size");
    v.seconds = std::atoi(field(req, "seconds").c_str());
    v.key_slot = req.key_slot;
    v.created = now;
    v.ready = now + Millis{rng_.between(5000, 200000)};
    v.stalled = rng_.chance(faults_.stall);
    v.moderated = v.prompt.find("forbidden") != std::string::npos;
    videos_[v.id] = v;
    order_.push_back(v.id);
    return video_json(v, now);
}

HttpResult Provider::video_json(const SimVideo& v, TimePoint now) const {
    nlohmann::json j = {{"id", v.id},
                        {"object", "video"},
                        {"model", v.model},
                        {"prompt", v.prompt},
                        {"size", v.size},
                        {"seconds", std::to_string(v.seconds)},
                        {"created_at", to_ms(v.created) / 1000}};
    auto total = (v.ready - v.created).count();
    auto elapsed = (now - v.created).count();
    if (v.moderated && elapsed > 2000) {
        j["status"] = "failed";
        j["error"] = {{"code", "moderation_blocked"}, {"message", "blocked by moderation"}};
    } else if (elapsed < 3000) {
        j["status"] = "queued";
        j["progress"] = 0;
    } else if (v.stalled || now < v.ready) {
        j["status"] = "in_progress";
        j["progress"] = v.stalled ? 42 : int(99 * elapsed / std::max<int64_t>(total, 1));
    } else {
        j["status"] = "completed";
        j["progress"] = 100;
        j["completed_at"] = to_ms(v.ready) / 1000;
        j["expires_at"] = to_ms(v.ready) / 1000 + 3600;
    }
    return json_answer(200, j, "");
}

HttpResult Provider::list(const std::string& query, TimePoint now) const {
    int limit = std::max(1, std::atoi(query_value(query, "limit").c_str()));
    std::string after = query_value(query, "after");
    nlohmann::json data = nlohmann::json::array();
    bool started = after.empty();
    bool has_more = false;
    for (auto it = order_.rbegin(); it != order_.rend(); ++it) {
        if (!started) {
            started = *it == after;
            continue;
        }
        if (static_cast<int>(data.size()) == limit) {
            has_more = true;
            break;
        }
        data.push_back(nlohmann::json::parse(video_json(videos_.at(*it), now).body));
    }
    nlohmann::json j = {{"object", "list"}, {"data", data}, {"has_more", has_more}};
    if (!data.empty()) {
        j["first_id"] = data.front()["id"];
        j["last_id"] = data.back()["id"];
    }
    return json_answer(200, j, "req_list");
}

}  // namespace vd::sim
