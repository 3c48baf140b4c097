#include "config/manifest_shots.hpp"

#include <regex>

#include "config/manifest_values.hpp"
#include "config/wording.hpp"

namespace vd {
namespace {

using nlohmann::json;

constexpr size_t kMinShots = 2, kMaxShots = 10;

// "[5.0s]" or "[5s]": what the server reads as the start of a shot.
bool has_shot_mark(const std::string& prompt) {
    static const std::regex mark(R"(\[\s*[0-9]+(\.[0-9]+)?\s*s\s*\])", std::regex::icase);
    return std::regex_search(prompt, mark);
}

// One shot's fields; nullopt (with the problems recorded) when it is not usable.
std::optional<Shot> read_shot(const json& shot, const std::string& at, ManifestCheck& check) {
    if (!shot.is_object())
        return wrong_type(check, at, shot, "a table {seconds, prompt}"), std::nullopt;
    ManifestCheck inner{check.file, {}, nullptr};
    for (const auto& [key, value] : shot.items())
        if (key != "seconds" && key != "prompt")
            inner.add(key, "unknown_key",
                      unknown_key(key, {"seconds", "prompt"}, "a shot has seconds and prompt"));
    Shot s;
    auto seconds = get_int(shot, "seconds", inner, "4");
    if (seconds && *seconds > 0)
        s.seconds = *seconds;
    else if (seconds)
        inner.add("seconds", "bad_seconds",
                  std::to_string(*seconds) + " is not a length (use 1 or more)");
    else if (!inner.failed("seconds"))
        inner.add("seconds", "bad_seconds", "missing (give the shot's length, such as 4)");
    if (auto p = get_string(shot, "prompt", inner)) {
        check_prompt("prompt", *p, s.prompt, inner);
        if (!inner.failed("prompt") && has_shot_mark(s.prompt))
            inner.add("prompt", "bad_prompt",
                      "contains a mark like [4.0s], which the provider reads as the start of "
                      "another shot (reword it, or make it a shot of its own)");
    } else if (!inner.failed("prompt")) {
        inner.add("prompt", "missing_prompt", "missing (write what the shot should show)");
    }
    for (auto& p : inner.problems)
        check.add(at + "." + p.field, p.code, p.message);
    if (!inner.problems.empty()) return std::nullopt;
    return s;
}

}  // namespace

void check_shots(const json& m, const Config& cfg, const ModelSpec* model, JobSpec& job,
                 ManifestCheck& check) {
    auto it = m.find("shots");
    if (it == m.end()) {
        if (m.contains("continuity"))
            check.add("continuity", "bad_shots",
                      "applies to storyboards only (give shots, or remove continuity)");
        return;
    }
    if (!it->is_array() || it->empty())
        return wrong_type(check, "shots", *it, "a list of {seconds, prompt} tables");
    if (it->size() < kMinShots || it->size() > kMaxShots)
        check.add("shots", "bad_shots",
                  "has " + std::to_string(it->size()) +
                      " shot(s); a storyboard has 2 to 10 (for one shot, give prompt and "
                      "seconds instead)");
    for (const char* alone : {"prompt", "seconds", "image", "remix_of"})
        if (m.contains(alone))
            check.add(alone, "bad_shots",
                      std::string("cannot be given with shots (a storyboard's prompts and "
                                  "seconds are its shots'; remove ") +
                          alone + ")");

    std::vector<Shot> shots;
    for (size_t i = 0; i < it->size(); ++i)
        if (auto s = read_shot((*it)[i], "shots[" + std::to_string(i) + "]", check))
            shots.push_back(std::move(*s));

    auto p = cfg.providers.find(job.provider);
    const bool joined_by_server = p != cfg.providers.end() && p->second.core.protocol == "chat-sse";
    if (auto c = m.find("continuity"); c != m.end()) {
        if (!c->is_string() || (*c != "last-frame" && *c != "none"))
            check.add("continuity", "bad_continuity",
                      "is " + c->dump() +
                          "; use \"last-frame\" (each shot starts from the last "
                          "frame of the one before) or \"none\"");
        else if (joined_by_server && *c == "last-frame")
            check.add("continuity", "unsupported",
                      "provider " + job.provider +
                          " joins the shots itself (chat-sse); remove "
                          "continuity");
        else
            job.continuity = *c == "last-frame";
    }
    if (!joined_by_server && m.contains("variants"))
        check.add("variants", "bad_shots",
                  "cannot be given with shots (a storyboard is joined from its shots' videos; "
                  "remove variants)");
    if (shots.size() != it->size()) return;

    int total = 0;
    std::string prompt;
    for (size_t i = 0; i < shots.size(); ++i) {
        const Shot& s = shots[i];
        total += s.seconds;
        if (!prompt.empty()) prompt += ' ';
        prompt += "[" + std::to_string(s.seconds) + ".0s]" + s.prompt;
        if (!joined_by_server && model && !contains(model->seconds, s.seconds))
            check.add("shots[" + std::to_string(i) + "].seconds", "bad_seconds",
                      std::to_string(s.seconds) + " is not allowed for " + model->name + " (use " +
                          one_of(texts(model->seconds)) + ")");
    }
    if (!joined_by_server) {
        job.seconds = total;
        job.shots = std::move(shots);
        check_prompt("shots", prompt, job.prompt, check);
        return;
    }
    if (model && !contains(model->seconds, total))
        return check.add("shots", "bad_seconds",
                         "the shots add up to " + std::to_string(total) + "s, which " +
                             model->name + " does not make (make them add up to " +
                             one_of(texts(model->seconds)) + ")");
    job.seconds = total;
    check_prompt("shots", prompt, job.prompt, check);
}

}  // namespace vd
