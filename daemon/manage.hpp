// The management subcommands: submit, status, retry, cancel and check.
// Each returns an exit code (daemon/cli.hpp); results go to stdout, errors to stderr.
// They work beside a running daemon: they never take the store's lock, and everything they put
// into a folder the daemon watches appears there by rename(2).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/config.hpp"
#include "daemon/finished_index.hpp"
#include "pipeline/job.hpp"
#include "pipeline/ledger.hpp"

namespace vd::manage {

struct SubmitOptions {
    std::string prompt;
    std::string image;  // a file anywhere; copied into the inbox as NAME.ext
    std::string model;
    std::optional<int> seconds;
    std::string size;
    std::string aspect;  // "16:9", "9:16", ... instead of a size
    std::optional<int> priority;
    std::vector<std::string> variants;  // "thumbnail", "spritesheet"
    std::string remix_of;               // a video id or a delivered job's name
    std::vector<std::string> shots;     // a storyboard: "SECONDS:PROMPT" each, instead of prompt
    bool continuity = false;            // each shot from the last frame of the one before
    std::string name;  // empty: a slug of the prompt (NAME-2, NAME-3, ... when that is taken)
};
int submit(const Config& cfg, const SubmitOptions& o);
// "A cat plays the piano!" -> "a-cat-plays-the-piano": whole words up to 40 characters;
// "video" when the prompt has no ASCII letters or digits.
std::string default_name(const std::string& prompt);

struct StatusOptions {
    bool json = false;
    bool watch = false;
    bool all = false;  // every finished job, not only the newest 20
};
int status(const Config& cfg, const StatusOptions& o);
// The report itself, from records already read (pure: tests feed it hand-made jobs). `unread`
// are finished jobs known only by their outline: counted, and hidden like older finished jobs.
std::string status_text(std::vector<Job> jobs, const Ledger& ledger, const BudgetSettings& budget,
                        TimePoint now, bool all,
                        const std::vector<finished_index::Outline>& unread = {});
nlohmann::json status_json(std::vector<Job> jobs, const Ledger& ledger,
                           const BudgetSettings& budget, TimePoint now, bool all,
                           const std::vector<finished_index::Outline>& unread = {});
std::string age(TimePoint since, TimePoint now);  // "42s", "3m12s", "2h05m", "3d04h"

int retry(const Config& cfg, const std::vector<std::string>& names, bool all);

int cancel(const Config& cfg, const std::vector<std::string>& names);

// `provider` empty: every configured provider.
int check(const Config& cfg, const std::string& provider, const EnvLookup& env);

}  // namespace vd::manage
