#include "config/manifest_fields.hpp"

#include <cstdio>
#include <cstring>

#include "config/aspect.hpp"
#include "config/manifest_image.hpp"
#include "config/manifest_shots.hpp"
#include "config/manifest_values.hpp"
#include "config/wording.hpp"

namespace vd {
namespace {

using nlohmann::json;

const std::vector<std::string> kFields{"prompt",   "model",     "seconds",  "size",      "aspect",
                                       "image",    "image_fit", "remix_of", "provider",  "priority",
                                       "variants", "meta",      "shots",    "continuity"};
const std::vector<std::string> kFits{"cover", "contain", "exact"};
const std::vector<std::string> kVariants{"thumbnail", "spritesheet"};
struct Target {
    const ModelSpec* model = nullptr;  // null when the provider or model is unknown
};

Target check_provider_and_model(const json& m, const Config& cfg, JobSpec& job,
                                ManifestCheck& check) {
    Target t;
    job.provider = get_string(m, "provider", check).value_or(cfg.defaults.provider);
    job.model = get_string(m, "model", check).value_or(cfg.defaults.model);
    if (check.failed("provider")) return t;
    auto p = cfg.providers.find(job.provider);
    if (p == cfg.providers.end()) {
        std::vector<std::string> names;
        for (const auto& [name, pc] : cfg.providers)
            names.push_back(name);
        std::string which = m.contains("provider") ? "" : "the default (defaults.provider) ";
        check.add("provider", "unknown_provider",
                  which + "\"" + job.provider + "\" is not a configured provider (" +
                      (names.empty() ? std::string("add a [providers." + job.provider + "] table")
                                     : "use " + one_of(names)) +
                      ")");
        return t;
    }
    if (check.failed("model")) return t;
    const auto& models = p->second.core.models;
    auto it = models.find(job.model);
    if (it == models.end()) {
        std::vector<std::string> names;
        for (const auto& [name, spec] : models)
            names.push_back(name);
        check.add(
            "model", "unknown_model",
            "\"" + job.model + "\" is not a model of provider " + job.provider + " (" +
                (names.empty() ? std::string("its model table is empty") : "use " + one_of(names)) +
                ")");
        return t;
    }
    t.model = &it->second;
    return t;
}

void check_seconds(const json& m, const Config& cfg, const Target& t, JobSpec& job,
                   ManifestCheck& check) {
    auto given = get_int(m, "seconds", check, "8");
    if (check.failed("seconds") || m.contains("shots")) return;  // a storyboard's: its shots' sum
    job.seconds = given.value_or(cfg.defaults.seconds);
    if (!t.model || contains(t.model->seconds, job.seconds)) return;
    const std::string use = use_hint(texts(t.model->seconds));
    if (given)
        check.add("seconds", "bad_seconds",
                  std::to_string(job.seconds) + " is not allowed for " + job.model + use);
    else
        check.add("seconds", "bad_seconds",
                  "the default " + std::to_string(job.seconds) +
                      " (defaults.seconds) is not allowed for " + job.model + "; set seconds" +
                      use);
}

void check_size(const json& m, const Config& cfg, const Target& t, JobSpec& job,
                ManifestCheck& check) {
    auto size_text = get_string(m, "size", check);
    auto aspect_text = get_string(m, "aspect", check);
    if (check.failed("size") || check.failed("aspect")) return;
    if (size_text && aspect_text)
        return check.add("aspect", "bad_aspect", "give size or aspect, not both (remove one)");
    const std::vector<std::string> none;
    const auto& allowed = t.model ? t.model->sizes : none;

    if (aspect_text) {
        auto a = parse_aspect(*aspect_text);
        if (!a)
            return check.add("aspect", "bad_aspect",
                             "\"" + *aspect_text +
                                 "\" is not an aspect ratio (write W:H, e.g. "
                                 "\"16:9\", \"9:16\" or \"1:1\")");
        if (!t.model) return;
        auto picked = pick_size(*a, allowed);
        if (!picked)
            return check.add("aspect", "bad_aspect",
                             job.model + " has no " + orientation_name(a->width, a->height) +
                                 " size for " + *aspect_text + " (its sizes: " + one_of(allowed) +
                                 ")");
        job.size = *picked;
        return;
    }

    const std::string text = size_text.value_or(cfg.defaults.size);
    auto parsed = parse_size(text);
    if (!parsed)
        return check.add("size", "bad_size",
                         "\"" + text + "\" is not a size (write WIDTHxHEIGHT, e.g. \"1280x720\")");
    job.size = *parsed;
    if (!t.model || contains(allowed, to_string(job.size))) return;
    if (size_text)
        check.add("size", "bad_size",
                  to_string(job.size) + " is not allowed for " + job.model + use_hint(allowed));
    else
        check.add("size", "bad_size",
                  "the default " + to_string(job.size) + " (defaults.size) is not allowed for " +
                      job.model + " (set size to " + one_of(allowed) + ", or set aspect)");
}

void check_image_field(const json& m, const std::string& dir, const Config& cfg, JobSpec& job,
                       ManifestCheck& check) {
    if (auto image = get_string(m, "image", check)) {
        job.image_original = *image;
        auto resolved = check_image(dir, *image, cfg.intake.max_image_bytes);
        if (!resolved)
            check.add("image", resolved.error().code, resolved.error().message);
        else
            job.image = *resolved;
    }
    if (auto fit = get_string(m, "image_fit", check)) {
        if (!contains(kFits, *fit))
            check.add("image_fit", "bad_image_fit",
                      "\"" + *fit + "\" is not a fit (use \"cover\", \"contain\" or \"exact\")");
        else
            job.image_fit = *fit;
    }
}

// What a provider's video id can be: "video_68d7...", base64 ids, "task:..." ids. Never a path
// that walks ("..", "/x") or anything with spaces.
bool looks_like_video_id(const std::string& id) {
    if (id.size() > 200 || id.find("..") != std::string::npos || id.front() == '/' ||
        id.front() == '.')
        return false;
    return std::all_of(id.begin(), id.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || std::strchr("._-:+=/", c);
    });
}

void check_remix(const json& m, const Config& cfg, JobSpec& job, ManifestCheck& check) {
    auto remix = get_string(m, "remix_of", check);
    if (!remix) return;
    std::string id(trim(*remix));
    if (id.empty())
        return check.add("remix_of", "bad_remix",
                         "is empty (give a video id or the name of a delivered job)");
    if (std::any_of(id.begin(), id.end(),
                    [](char c) { return static_cast<unsigned char>(c) < 0x20; }))
        return check.add("remix_of", "bad_remix", "contains control characters (give a video id)");
    if (m.contains("image"))
        return check.add("remix_of", "bad_remix",
                         "a remix takes no reference image (remove image or remix_of)");
    tl::expected<std::optional<RemixSource>, std::string> source = std::nullopt;
    if (check.remix && is_valid_name(id)) source = (*check.remix)(id);
    if (!source)
        return check.add("remix_of", "bad_remix",
                         "the delivered job \"" + id + "\": " + source.error() +
                             " (give the provider's video id instead)");
    if (*source) {
        id = (*source)->video_id;
        // A remix keeps its source's length and size: the estimate and the verification expect
        // what will come back.
        if ((*source)->seconds) job.seconds = *(*source)->seconds;
        if ((*source)->size) job.size = *(*source)->size;
    } else if (!looks_like_video_id(id)) {
        return check.add("remix_of", "bad_remix",
                         "\"" + id +
                             "\" is neither a delivered job in the outbox nor a video id (ids "
                             "are letters, digits and . _ - : + = /, without \"..\"; give the "
                             "provider's video id or the name of a job in " +
                             cfg.paths.outbox + ")");
    }
    job.remix_of = id;
}

void check_variants(const json& m, const Config& cfg, JobSpec& job, ManifestCheck& check) {
    job.variants = cfg.defaults.variants;
    auto it = m.find("variants");
    if (it == m.end()) return;
    if (!it->is_array())
        return wrong_type(check, "variants", *it, "a list such as [\"thumbnail\"]");
    job.variants.clear();
    for (const auto& v : *it) {
        if (!v.is_string() || !contains(kVariants, v.get<std::string>()))
            return check.add("variants", "bad_variant",
                             v.dump() + " is not a variant (use \"thumbnail\" or \"spritesheet\")");
        if (!contains(job.variants, v.get<std::string>()))
            job.variants.push_back(v.get<std::string>());
    }
}

// A chat-sse provider answers with one link to the video: no id to remix or to fetch variants by.
void check_stream_provider(const json& m, const Config& cfg, JobSpec& job, ManifestCheck& check) {
    auto p = cfg.providers.find(job.provider);
    if (p == cfg.providers.end() || p->second.core.protocol != "chat-sse") return;
    if (!job.remix_of.empty())
        check.add("remix_of", "bad_remix",
                  "provider " + job.provider +
                      " speaks chat-sse, which has no remix by id (put the video's share link "
                      "in the prompt instead, or use another provider)");
    if (m.contains("variants") && !job.variants.empty())
        check.add("variants", "bad_variant",
                  "provider " + job.provider +
                      " speaks chat-sse, which gives the video only (remove variants)");
    job.variants.clear();  // defaults.variants do not apply to it
}

json manifest_as_read(const json& m, const JobSpec& job) {
    json out = {
        {"prompt", job.prompt},     {"provider", job.provider},    {"model", job.model},
        {"seconds", job.seconds},   {"size", to_string(job.size)}, {"priority", job.priority},
        {"variants", job.variants}, {"image_fit", job.image_fit},  {"meta", job.meta}};
    for (const char* optional : {"aspect", "image", "remix_of", "shots", "continuity"})
        if (m.contains(optional)) out[optional] = m.at(optional);
    return out;
}

}  // namespace

void check_fields(const json& m, const std::string& dir, const Config& cfg, JobSpec& job,
                  ManifestCheck& check) {
    for (const auto& [key, value] : m.items())
        if (!contains(kFields, key))
            check.add(key, "unknown_key",
                      unknown_key(key, kFields, "remove it, or put it in meta"));

    Target target = check_provider_and_model(m, cfg, job, check);
    if (auto prompt = get_string(m, "prompt", check))
        check_prompt("prompt", *prompt, job.prompt, check);
    else if (!check.failed("prompt") && !m.contains("shots"))
        check.add("prompt", "missing_prompt", "missing (write what the video should show)");
    check_seconds(m, cfg, target, job, check);
    check_size(m, cfg, target, job, check);
    check_image_field(m, dir, cfg, job, check);
    check_remix(m, cfg, job, check);
    if (auto priority = get_int(m, "priority", check, "10")) job.priority = *priority;
    check_variants(m, cfg, job, check);
    check_stream_provider(m, cfg, job, check);
    if (auto it = m.find("meta"); it != m.end()) {
        if (it->is_object())
            job.meta = *it;
        else
            wrong_type(check, "meta", *it, "a table of your own fields");
    }
    check_shots(m, cfg, target.model, job, check);
    job.manifest = manifest_as_read(m, job);
}

}  // namespace vd
