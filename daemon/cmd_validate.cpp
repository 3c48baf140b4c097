// `videodrop validate` and `videodrop cost`: the manifests checked against the config, no network.
// Exit codes: 0 all valid, 1 the config (or the inbox) is unusable, 3 some manifest is invalid.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>

#include "config/config.hpp"
#include "config/manifest.hpp"
#include "daemon/cli.hpp"
#include "daemon/image_fit.hpp"
#include "daemon/job_store.hpp"
#include "daemon/preflight.hpp"
#include "daemon/sidecar.hpp"
#include "pipeline/ledger.hpp"

namespace vd::cli {
namespace {

namespace fs = std::filesystem;

struct Checked {
    std::string path;
    tl::expected<JobSpec, std::vector<ManifestProblem>> result;
};

// The files given, or every manifest in the inbox (sorted, so output is stable).
std::optional<std::vector<std::string>> manifest_paths(const std::vector<std::string>& files,
                                                       const Config& cfg) {
    if (!files.empty()) return files;
    std::vector<std::string> out;
    std::error_code ec;
    for (fs::directory_iterator it(cfg.paths.inbox, ec), end; !ec && it != end; it.increment(ec))
        if (is_manifest_name(it->path().filename().string())) out.push_back(it->path().string());
    if (ec == std::errc::no_such_file_or_directory) {
        std::fprintf(stderr, "videodrop: the inbox %s is not made yet (run and once make it)\n",
                     cfg.paths.inbox.c_str());
        return out;
    }
    if (ec) {
        std::fprintf(stderr, "videodrop: cannot list the inbox %s: %s (check [paths] inbox)\n",
                     cfg.paths.inbox.c_str(), ec.message().c_str());
        return std::nullopt;
    }
    std::sort(out.begin(), out.end());
    return out;
}

std::vector<Checked> check_all(const std::vector<std::string>& paths, const Config& cfg) {
    std::vector<Checked> out;
    for (const auto& p : paths) {
        std::string dir = fs::path(p).parent_path().string();
        auto spec = read_manifest(p, dir.empty() ? "." : dir, cfg, remix_lookup(cfg.paths.outbox));
        // The daemon rejects an `exact` image of another size; say so now, not after a drop.
        if (spec && !spec->image.empty() && spec->image_fit == "exact") {
            auto size = image_size(spec->image);
            if (size && !(*size == spec->size))
                spec = tl::unexpected(std::vector<ManifestProblem>{
                    {p, "image",
                     spec->image_original + " is " + to_string(*size) + " but the job's size is " +
                         to_string(spec->size) +
                         " (resize it, or set image_fit = \"cover\" or \"contain\")",
                     "image_mismatch"}});
        }
        out.push_back({p, std::move(spec)});
    }
    return out;
}

double cost_of(const JobSpec& job, const Config& cfg) {
    return estimate_cost(job, cfg.providers.at(job.provider).core);
}

std::string describe(const JobSpec& job) {
    return job.model + ", " + std::to_string(job.seconds) + " s, " + to_string(job.size);
}

int print_problems(const std::vector<Checked>& checked) {
    int invalid = 0;
    for (const auto& c : checked) {
        if (c.result) continue;
        ++invalid;
        for (const auto& p : c.result.error())
            std::printf("%s\n", p.format().c_str());
    }
    return invalid;
}

// The shipped profile each provider starts from, where it names one.
void print_profiles(const Config& cfg) {
    for (const auto& [name, p] : cfg.providers)
        if (!p.profile.empty())
            std::printf("provider %s: %s, profile %s\n", name.c_str(), p.core.protocol.c_str(),
                        p.profile.c_str());
}

// A manifest no budget can ever pay for is as good as invalid: say so before it is dropped.
void check_budget(std::vector<Checked>& checked, const Config& cfg) {
    Ledger ledger = state_view::ledger(cfg.paths.state);
    for (auto& c : checked) {
        if (!c.result) continue;
        if (auto why = ledger.never_fits(cost_of(*c.result, cfg), 0, cfg.budget))
            c.result = tl::unexpected(std::vector<ManifestProblem>{
                {c.path, "", *why + " (lower seconds or the model, or raise the cap in [budget])",
                 "over_budget"}});
    }
}

int validate(const Config& cfg, const std::vector<std::string>& files) {
    // The folders first: a daemon started on them would refuse to run.
    auto problems = preflight(cfg.paths);
    for (const auto& p : problems)
        std::fprintf(stderr, "videodrop: %s\n", p.c_str());
    auto paths = manifest_paths(files, cfg);
    if (!paths) return kFatal;
    auto checked = check_all(*paths, cfg);
    check_budget(checked, cfg);
    double total = 0;
    for (const auto& c : checked) {
        if (!c.result) continue;
        double cost = cost_of(*c.result, cfg);
        total += cost;
        std::printf("ok   %s (%s, %s)\n", c.result->name.c_str(), describe(*c.result).c_str(),
                    usd(cost).c_str());
    }
    int invalid = print_problems(checked);
    print_profiles(cfg);
    std::printf("%zu manifest%s: %zu ok, %d invalid; config %s ok; estimated %s\n", checked.size(),
                checked.size() == 1 ? "" : "s", checked.size() - invalid, invalid,
                cfg.source.c_str(), usd(total).c_str());
    if (!problems.empty()) return kFatal;
    return invalid > 0 ? kSomeFailed : kOk;
}

std::string cap(double spent, double limit, const char* what) {
    return usd(spent) + (limit > 0 ? " of " + usd(limit) + " " + what : std::string(" (no cap)"));
}

int cost(const Config& cfg, const std::vector<std::string>& files) {
    auto paths = manifest_paths(files, cfg);
    if (!paths) return kFatal;
    auto checked = check_all(*paths, cfg);
    check_budget(checked, cfg);
    double total = 0;
    size_t valid = 0;
    for (const auto& c : checked) {
        if (!c.result) continue;
        double cost = cost_of(*c.result, cfg);
        total += cost;
        ++valid;
        std::printf("%8s  %s (%s)\n", usd(cost).c_str(), c.result->name.c_str(),
                    describe(*c.result).c_str());
    }
    int invalid = print_problems(checked);
    print_profiles(cfg);
    std::string skipped =
        invalid ? " (" + std::to_string(invalid) + " invalid, not counted)" : std::string();
    std::printf("estimated    %s for %zu manifest%s%s\n", usd(total).c_str(), valid,
                valid == 1 ? "" : "s", skipped.c_str());

    auto now = std::chrono::time_point_cast<Millis>(std::chrono::system_clock::now());
    Ledger ledger = state_view::ledger(cfg.paths.state);
    std::printf("spent today  %s\n",
                cap(ledger.on_day(now), cfg.budget.usd_per_day, "per day").c_str());
    std::printf("spent total  %s\n", cap(ledger.total(), cfg.budget.usd_total, "in total").c_str());
    if (auto why = ledger.refuse(total, now, cfg.budget))
        std::printf("these would wait: budget: %s\n", why->c_str());
    return invalid > 0 ? kSomeFailed : kOk;
}

}  // namespace

void add_validate(CLI::App& app, Globals& g, int& rc) {
    auto files = std::make_shared<std::vector<std::string>>();
    auto* v = app.add_subcommand("validate", "check the config and manifests (default: the inbox)");
    v->add_option("files", *files, "manifest files");
    v->callback([&g, &rc, files] {
        auto cfg = load_config_or_report(g);
        rc = cfg ? validate(*cfg, *files) : kFatal;
    });

    auto cost_files = std::make_shared<std::vector<std::string>>();
    auto* c = app.add_subcommand(
        "cost", "estimated cost of manifests (default: the inbox) and the spend so far");
    c->add_option("files", *cost_files, "manifest files");
    c->callback([&g, &rc, cost_files] {
        auto cfg = load_config_or_report(g);
        rc = cfg ? cost(*cfg, *cost_files) : kFatal;
    });
}

}  // namespace vd::cli
