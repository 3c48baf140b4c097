// `videodrop submit | status | retry | cancel | check`: the command line of daemon/manage_*.cpp.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>

#include "config/config.hpp"
#include "daemon/cli.hpp"
#include "daemon/manage.hpp"

namespace vd::cli {
namespace {

// Runs `body` with the config, or reports why there is none.
template <typename Body>
void with_config(const Globals& g, int& rc, Body body) {
    auto cfg = load_config_or_report(g);
    rc = cfg ? body(*cfg) : kFatal;
}

}  // namespace

void add_manage(CLI::App& app, Globals& g, int& rc) {
    auto sub = std::make_shared<manage::SubmitOptions>();
    auto seconds = std::make_shared<int>(0);
    auto* s = app.add_subcommand("submit", "write a manifest into the inbox");
    s->add_option("prompt", sub->prompt, "what the video shows (or give --shot)");
    s->add_option("--image", sub->image, "reference image (PNG, JPEG or WebP), copied in");
    s->add_option("--model", sub->model, "model (default: [defaults] model)");
    auto* secs = s->add_option("--seconds", *seconds, "duration (default: [defaults] seconds)");
    s->add_option("--size", sub->size, "WxH (default: [defaults] size)");
    s->add_option("--aspect", sub->aspect, "16:9, 9:16, ...: the model's size of that shape")
        ->excludes("--size");
    auto priority = std::make_shared<int>(0);
    auto* prio = s->add_option("--priority", *priority, "higher goes first (default 0)");
    s->add_option("--variant", sub->variants, "also fetch: thumbnail, spritesheet (repeatable)");
    s->add_option("--remix-of", sub->remix_of, "a video id, or the name of a delivered job");
    s->add_option("--shot", sub->shots,
                  "a storyboard's shot as SECONDS:PROMPT, instead of a prompt (repeatable, 2 to "
                  "10)")
        ->allow_extra_args(false);
    s->add_flag("--continuity", sub->continuity,
                "a storyboard whose shots each start from the last frame of the one before");
    s->add_option("--name", sub->name,
                  "job name (default: the prompt's first words; NAME-2, ... when taken)");
    s->callback([&g, &rc, sub, seconds, secs, priority, prio] {
        if (secs->count() > 0) sub->seconds = *seconds;
        if (prio->count() > 0) sub->priority = *priority;
        with_config(g, rc, [&](const Config& cfg) { return manage::submit(cfg, *sub); });
    });

    auto st = std::make_shared<manage::StatusOptions>();
    auto* status = app.add_subcommand("status", "every job: state, progress, age, cost; totals");
    status->add_flag("--json", st->json, "one JSON object");
    status->add_flag("--watch", st->watch, "redraw every second until Ctrl-C");
    status->add_flag("--all", st->all, "every finished job, not only the newest 20");
    status->callback([&g, &rc, st] {
        with_config(g, rc, [&](const Config& cfg) { return manage::status(cfg, *st); });
    });

    auto names = std::make_shared<std::vector<std::string>>();
    auto all = std::make_shared<bool>(false);
    auto* retry = app.add_subcommand("retry", "move failed manifests back into the inbox");
    auto* retry_names =
        retry->add_option("names", *names, "job names (as in failed/NAME.error.json)");
    auto* retry_all = retry->add_flag("--all", *all, "every job in failed/");
    retry_names->excludes(retry_all);
    retry->callback([&g, &rc, names, all] {
        if (names->empty() && !*all) throw CLI::ValidationError("retry", "give NAME... or --all");
        with_config(g, rc, [&](const Config& cfg) { return manage::retry(cfg, *names, *all); });
    });

    auto cancel_names = std::make_shared<std::vector<std::string>>();
    auto* cancel = app.add_subcommand("cancel", "cancel queued or running jobs");
    cancel->add_option("names", *cancel_names, "job names")->required();
    cancel->callback([&g, &rc, cancel_names] {
        with_config(g, rc, [&](const Config& cfg) { return manage::cancel(cfg, *cancel_names); });
    });

    auto provider = std::make_shared<std::string>();
    auto* check = app.add_subcommand(
        "check", "ask each provider whether its keys work and which models it offers");
    check->add_option("--provider", *provider, "only this [providers.NAME]");
    check->callback([&g, &rc, provider] {
        with_config(g, rc, [&](const Config& cfg) {
            return manage::check(cfg, *provider, [](const std::string& name) {
                const char* v = std::getenv(name.c_str());
                return v ? std::optional<std::string>(v) : std::nullopt;
            });
        });
    });
}

}  // namespace vd::cli
