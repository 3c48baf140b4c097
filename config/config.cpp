// parse_config: the TOML of videodrop.toml into a Config, every error collected.
#include "config/config.hpp"

#include <algorithm>
#include <filesystem>

#include "config/hooks_config.hpp"
#include "config/provider_config.hpp"
#include "config/toml_reader.hpp"
#include "config/wording.hpp"

namespace vd {
namespace {

const std::vector<std::string> kVariants{"thumbnail", "spritesheet"};

void read_paths(const toml::table& t, Paths& p, ConfigErrors& errors) {
    TableReader r(t, "paths", errors);
    for (auto [key, out] : {std::pair{"inbox", &p.inbox}, std::pair{"outbox", &p.outbox},
                            std::pair{"failed", &p.failed}, std::pair{"state", &p.state}})
        if (r.read_string(key, *out) && out->empty()) r.error(key, "empty (give a folder)");
    r.finish();
}

void read_variants(TableReader& r, std::string_view key, std::vector<std::string>& out) {
    std::vector<std::string> words;
    if (!r.read_strings(key, words)) return;
    for (const auto& w : words)
        if (std::find(kVariants.begin(), kVariants.end(), w) == kVariants.end())
            return r.error(key,
                           "\"" + w + "\" is not a variant (use \"thumbnail\" or \"spritesheet\")");
    out = words;
}

std::vector<std::string> model_names(const ProviderSettings& p) {
    std::vector<std::string> names;
    for (const auto& [name, m] : p.models)
        names.push_back(name);
    return names;
}

// The defaults must make a valid job on their own when their provider is configured.
void check_defaults(TableReader& r, const Defaults& d, bool provider_given,
                    const std::map<std::string, ProviderConfig>& providers) {
    auto p = providers.find(d.provider);
    if (p == providers.end()) {
        std::vector<std::string> names;
        for (const auto& [name, pc] : providers)
            names.push_back(name);
        if (provider_given && !providers.empty())
            r.error("provider", "\"" + d.provider + "\" has no [providers." + d.provider +
                                    "] table (use " + one_of(names) + ")");
        return;
    }
    const auto& models = p->second.core.models;
    auto m = models.find(d.model);
    if (m == models.end()) {
        std::string fix = models.empty()
                              ? "add [providers." + d.provider + ".models." + d.model + "]"
                              : "use " + one_of(model_names(p->second.core));
        r.error("model",
                "\"" + d.model + "\" is not a model of providers." + d.provider + " (" + fix + ")");
        return;
    }
    const ModelSpec& spec = m->second;
    if (std::find(spec.seconds.begin(), spec.seconds.end(), d.seconds) == spec.seconds.end()) {
        std::vector<std::string> allowed;
        for (int s : spec.seconds)
            allowed.push_back(std::to_string(s));
        r.error("seconds", std::to_string(d.seconds) + " is not allowed for " + d.model + " (use " +
                               one_of(allowed) + ")");
    }
    if (std::find(spec.sizes.begin(), spec.sizes.end(), d.size) == spec.sizes.end())
        r.error("size",
                d.size + " is not allowed for " + d.model + " (use " + one_of(spec.sizes) + ")");
}

void read_defaults(const toml::table* t, Defaults& d,
                   const std::map<std::string, ProviderConfig>& providers, ConfigErrors& errors) {
    static const toml::table empty;
    TableReader r(t ? *t : empty, "defaults", errors);
    bool provider_given = r.read_string("provider", d.provider);
    r.read_string("model", d.model);
    r.read_int("seconds", d.seconds, 1, 3600);
    std::string size;
    if (r.read_string("size", size)) {
        if (auto s = parse_size(size))
            d.size = to_string(*s);
        else
            r.error("size",
                    "\"" + size + "\" is not a size (write WIDTHxHEIGHT, e.g. \"1280x720\")");
    }
    read_variants(r, "variants", d.variants);
    r.finish();
    check_defaults(r, d, provider_given, providers);
}

void read_positive(TableReader& r, std::string_view key, Millis& out) {
    if (r.read_duration(key, out) && out <= Millis{0}) r.error(key, "must be more than 0");
}

void read_intake(const toml::table& t, IntakeSettings& s, ConfigErrors& errors) {
    TableReader r(t, "intake", errors);
    r.read_duration("settle", s.settle);
    read_positive(r, "rescan", s.rescan);
    r.read_int("max_image_bytes", s.max_image_bytes, 1, INT64_MAX);
    r.read_int("max_image_pixels", s.max_image_pixels, 1, int64_t{1} << 32);
    r.read_int("max_manifest_bytes", s.max_manifest_bytes, 1, INT64_MAX);
    r.finish();
}

void read_polling(const toml::table& t, PollSettings& s, ConfigErrors& errors) {
    TableReader r(t, "polling", errors);
    read_positive(r, "min_interval", s.min_interval);
    read_positive(r, "max_interval", s.max_interval);
    read_positive(r, "job_timeout", s.job_timeout);
    read_positive(r, "max_provider_wait", s.max_provider_wait);
    if (s.min_interval > s.max_interval)
        r.error("min_interval", "is longer than max_interval (make min_interval <= max_interval)");
    r.finish();
}

void read_budget(const toml::table& t, BudgetSettings& s, ConfigErrors& errors) {
    TableReader r(t, "budget", errors);
    r.read_number("usd_per_day", s.usd_per_day, 0);
    r.read_number("usd_total", s.usd_total, 0);
    r.finish();
}

void read_verify(const toml::table& t, VerifySettings& s, ConfigErrors& errors) {
    TableReader r(t, "verify", errors);
    r.read_duration("duration_tolerance", s.duration_tolerance);
    r.read_bool("require_audio", s.require_audio);
    std::string level = s.level == VerifyLevel::decode ? "decode" : "demux";
    if (r.read_choice("level", level, {"decode", "demux"}))
        s.level = level == "decode" ? VerifyLevel::decode : VerifyLevel::demux;
    r.read_int("max_download_attempts", s.max_download_attempts, 1, 100);
    read_positive(r, "download_backoff", s.download_backoff);
    r.finish();
}

void read_download(const toml::table& t, DownloadSettings& s, ConfigErrors& errors) {
    TableReader r(t, "download", errors);
    r.read_number("max_mbit_per_second", s.max_mbit_per_second, 1);
    r.read_int("min_bytes_per_second", s.min_bytes_per_second, 1, INT64_MAX);
    read_positive(r, "low_speed_time", s.low_speed_time);
    r.finish();
}

void read_reconcile(const toml::table& t, ReconcileSettings& s, ConfigErrors& errors) {
    TableReader r(t, "reconcile", errors);
    r.read_int("looks", s.looks, 1, 10);
    r.read_int("resubmits", s.resubmits, 0, 5);
    r.finish();
}

void read_log(const toml::table& t, LogSettings& s, ConfigErrors& errors) {
    TableReader r(t, "log", errors);
    r.read_choice("level", s.level, {"trace", "debug", "info", "warn", "error"});
    r.read_choice("format", s.format, {"text", "json"});
    r.finish();
}

void read_metrics(const toml::table& t, std::string& textfile, ConfigErrors& errors) {
    TableReader r(t, "metrics", errors);
    r.read_string("textfile", textfile);
    r.finish();
}

}  // namespace

tl::expected<Config, std::string> parse_config(std::string_view toml, const std::string& source) {
    ConfigErrors errors{source, {}};
    toml::table root;
    try {
        root = toml::parse(toml, std::string_view(source));
    } catch (const toml::parse_error& e) {
        errors.add(e.source().begin.line, "",
                   "not valid TOML: " + std::string(e.description()) + " (fix the syntax there)");
        return tl::unexpected(errors.joined());
    }

    Config cfg;
    cfg.source = source;
    TableReader top(root, "", errors);
    if (const auto* t = top.read_table("paths")) read_paths(*t, cfg.paths, errors);
    if (const auto* t = top.read_table("providers")) cfg.providers = read_providers(*t, errors);
    read_defaults(top.read_table("defaults"), cfg.defaults, cfg.providers, errors);
    if (const auto* t = top.read_table("intake")) read_intake(*t, cfg.intake, errors);
    if (const auto* t = top.read_table("polling")) read_polling(*t, cfg.polling, errors);
    if (const auto* t = top.read_table("budget")) read_budget(*t, cfg.budget, errors);
    if (const auto* t = top.read_table("verify")) read_verify(*t, cfg.verify, errors);
    if (const auto* t = top.read_table("reconcile")) read_reconcile(*t, cfg.reconcile, errors);
    if (const auto* t = top.read_table("download")) read_download(*t, cfg.download, errors);
    if (const auto* t = top.read_table("log")) read_log(*t, cfg.log, errors);
    if (const auto* t = top.read_table("metrics")) read_metrics(*t, cfg.metrics_textfile, errors);
    if (const auto* t = top.read_table("hooks")) read_hooks(*t, cfg.hooks, errors);
    top.finish();

    if (!errors.lines.empty()) return tl::unexpected(errors.joined());
    if (auto overlap = overlapping_paths(cfg.paths))
        return tl::unexpected(source + ": " + *overlap);
    return cfg;
}

std::optional<std::string> overlapping_paths(const Paths& paths) {
    namespace stdfs = std::filesystem;
    const std::pair<const char*, std::string> folders[] = {{"inbox", paths.inbox},
                                                           {"outbox", paths.outbox},
                                                           {"failed", paths.failed},
                                                           {"state", paths.state}};
    // Symlinks resolved where the folders exist, so two names for one folder are caught too.
    auto norm = [](const std::string& p) {
        std::error_code ec;
        auto n = stdfs::weakly_canonical(stdfs::absolute(p, ec), ec);
        if (ec) n = stdfs::absolute(p).lexically_normal();
        std::string s = n.string();
        while (s.size() > 1 && s.back() == '/')
            s.pop_back();
        return s;
    };
    auto inside = [](const std::string& a, const std::string& b) {  // a within b
        return a.size() > b.size() && a.compare(0, b.size(), b) == 0 &&
               (b == "/" || a[b.size()] == '/');
    };
    for (size_t i = 0; i < 4; ++i)
        for (size_t j = 0; j < 4; ++j) {
            if (i == j) continue;
            std::string a = norm(folders[i].second), b = norm(folders[j].second);
            if (i < j && a == b)
                return "[paths] " + std::string(folders[i].first) + " and " + folders[j].first +
                       " are the same folder (" + a + "); give each its own folder";
            if (inside(a, b))
                return "[paths] " + std::string(folders[i].first) + " (" + a + ") is inside " +
                       folders[j].first + " (" + b + "); give each its own folder, side by side";
        }
    return std::nullopt;
}

Settings Config::settings() const {
    Settings s;
    for (const auto& [name, p] : providers)
        s.providers[name] = p.core;
    s.polling = polling;
    s.budget = budget;
    s.verify = verify;
    s.reconcile = reconcile;
    s.download = download;
    return s;
}

}  // namespace vd
