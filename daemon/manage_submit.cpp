// `videodrop submit`: a manifest (and a copy of the image) into the inbox, validated first and
// published by rename, so the daemon never sees a half-written or invalid job from us.
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "config/manifest.hpp"
#include "config/utf8.hpp"
#include "daemon/cli.hpp"
#include "daemon/fs_move.hpp"
#include "daemon/fsutil.hpp"
#include "daemon/job_store.hpp"
#include "daemon/manage.hpp"
#include "daemon/manage_util.hpp"
#include "daemon/sidecar.hpp"

namespace vd::manage {
namespace {

namespace sfs = std::filesystem;
using fs::exists;
using nlohmann::json;

constexpr size_t kMaxSlug = 40;

// The extension the copy gets: the image's own (lower-cased), so a .txt-style reader and a
// person both recognise it.
std::string image_ext(const std::string& path) {
    std::string ext = sfs::path(path).extension().string();
    for (char& c : ext)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    bool plain = ext.size() > 1;
    for (size_t i = 1; i < ext.size(); ++i)
        if (!std::isalnum(static_cast<unsigned char>(ext[i]))) plain = false;
    return plain ? ext : ".img";
}

// A name is taken when any file the daemon could pair with it is already in the inbox, when a
// job of that name is claimed and not finished, or when a delivery of it is in the outbox: a
// new job never shares a name with one a person could confuse it with.
bool taken(const Config& cfg, const std::vector<std::string>& claims, const std::string& name,
           const std::string& ext) {
    const std::string& inbox = cfg.paths.inbox;
    for (const char* e : {".json", ".toml", ".txt", ".png", ".jpg", ".jpeg", ".webp"})
        if (exists(inbox + "/" + name + e)) return true;
    if (!ext.empty() && exists(inbox + "/" + name + ext)) return true;
    if (exists(cfg.paths.outbox + "/" + name + ".mp4")) return true;
    for (const auto& id : claims)
        if (JobStore::claim_of(id, name)) return true;
    return false;
}

// Removes the staging folder however submit ends.
struct Staging {
    std::string dir;
    ~Staging() {
        std::error_code ec;
        if (!dir.empty()) sfs::remove_all(dir, ec);
    }
};

// Picks NAME, NAME-2, ... and reserves it by creating its staging folder (a dotfile the daemon
// ignores), so two submits at once never pick the same name.
std::string reserve(const Config& cfg, const std::string& base, const std::string& ext,
                    Staging& staging) {
    const std::string& inbox = cfg.paths.inbox;
    const auto claims = state_view::claim_ids(cfg.paths.state);
    for (int n = 1; n < 10000; ++n) {
        std::string name = n == 1 ? base : base + "-" + std::to_string(n);
        if (taken(cfg, claims, name, ext)) continue;
        std::string dir = inbox + "/." + name + ".submit.tmp";
        if (::mkdir(dir.c_str(), 0755) != 0) {
            if (errno == EEXIST) continue;
            std::fprintf(stderr, "videodrop: cannot create %s: %s (check [paths] inbox)\n",
                         dir.c_str(), std::strerror(errno));
            return "";
        }
        staging.dir = dir;
        return name;
    }
    std::fprintf(stderr, "videodrop: every name from %s to %s-9999 is taken in %s\n", base.c_str(),
                 base.c_str(), inbox.c_str());
    return "";
}

// "4:a cat wakes up" -> {"seconds": 4, "prompt": "a cat wakes up"}; nullopt when not that shape.
std::optional<json> parse_shot(const std::string& text) {
    size_t colon = text.find(':');
    if (colon == 0 || colon == std::string::npos || colon > 4) return std::nullopt;
    for (size_t i = 0; i < colon; ++i)
        if (!std::isdigit(static_cast<unsigned char>(text[i]))) return std::nullopt;
    return json{{"seconds", std::stoi(text.substr(0, colon))}, {"prompt", text.substr(colon + 1)}};
}

json manifest_json(const SubmitOptions& o, const json& shots, const std::string& image_name) {
    json m = json::object();
    if (shots.empty() || !o.prompt.empty()) m["prompt"] = o.prompt;
    if (!shots.empty()) m["shots"] = shots;
    if (o.continuity) m["continuity"] = "last-frame";
    if (!o.model.empty()) m["model"] = o.model;
    if (o.seconds) m["seconds"] = *o.seconds;
    if (!o.size.empty()) m["size"] = o.size;
    if (!o.aspect.empty()) m["aspect"] = o.aspect;
    if (o.priority) m["priority"] = *o.priority;
    if (!o.variants.empty()) m["variants"] = o.variants;
    if (!o.remix_of.empty()) m["remix_of"] = o.remix_of;
    if (!image_name.empty()) m["image"] = image_name;
    return m;
}

}  // namespace

std::string default_name(const std::string& prompt) {
    // Whole words while they fit; a first word longer than the limit is cut.
    std::string slug, word;
    bool full = false;
    auto flush = [&] {
        if (word.empty() || full) return;
        if (slug.empty())
            slug = word.substr(0, kMaxSlug);
        else if (slug.size() + 1 + word.size() <= kMaxSlug)
            slug += "-" + word;
        else
            full = true;
        word.clear();
    };
    for (char c : prompt) {
        auto u = static_cast<unsigned char>(c);
        if (u < 0x80 && std::isalnum(u))
            word += static_cast<char>(std::tolower(u));
        else
            flush();
    }
    flush();
    return slug.empty() ? "video" : slug;
}

int submit(const Config& cfg, const SubmitOptions& o) {
    const std::string& inbox = cfg.paths.inbox;
    std::error_code ec;
    // Not made yet (a fresh folder, before the first run): made here, as run and once would.
    if (!sfs::exists(sfs::symlink_status(inbox, ec))) (void)fs::make_dirs(inbox);
    if (!sfs::is_directory(inbox, ec)) {
        std::fprintf(stderr,
                     "videodrop: the inbox %s is not a folder (create it, or fix [paths] inbox "
                     "in %s)\n",
                     inbox.c_str(), cfg.source.c_str());
        return cli::kFatal;
    }
    if (!o.name.empty() && !is_valid_name(o.name)) {
        std::fprintf(stderr,
                     "videodrop: --name \"%s\" is not a valid job name (1-120 letters, digits, "
                     "'.', '_' or '-')\n",
                     one_line(o.name, 60).c_str());
        return cli::kUsage;
    }
    // JSON cannot carry broken UTF-8; a terminal in a legacy encoding produces it.
    for (auto [text, what] : {std::pair{&o.prompt, "the prompt"}, std::pair{&o.model, "--model"},
                              std::pair{&o.size, "--size"}, std::pair{&o.aspect, "--aspect"},
                              std::pair{&o.remix_of, "--remix-of"}})
        if (auto bad = find_invalid_utf8(*text)) {
            std::fprintf(stderr,
                         "videodrop: submit: %s is not valid UTF-8 at byte %zu (set a UTF-8 "
                         "locale or write the manifest by hand)\n",
                         what, *bad);
            return cli::kUsage;
        }
    json shots = json::array();
    for (const auto& text : o.shots) {
        auto shot = parse_shot(text);
        if (!shot || find_invalid_utf8(text)) {
            std::fprintf(stderr,
                         "videodrop: submit: --shot \"%s\" is not SECONDS:PROMPT in UTF-8 (such "
                         "as --shot \"4:a cat wakes up\")\n",
                         one_line(text, 60).c_str());
            return cli::kUsage;
        }
        shots.push_back(std::move(*shot));
    }
    if (o.prompt.empty() && shots.empty()) {
        std::fprintf(stderr,
                     "videodrop: submit: give a prompt, or a storyboard as --shot "
                     "SECONDS:PROMPT two or more times\n");
        return cli::kUsage;
    }
    const std::string slug_of = o.prompt.empty() ? shots[0]["prompt"].get<std::string>() : o.prompt;
    std::string ext;
    if (!o.image.empty()) {
        // The user's own file: a wrong path is a mistake on the command line, not a fatal error.
        const auto type = sfs::status(o.image, ec).type();
        const char* why = type == sfs::file_type::not_found            ? "does not exist"
                          : ec || ::access(o.image.c_str(), R_OK) != 0 ? "cannot be read"
                          : type != sfs::file_type::regular            ? "is not a regular file"
                                                                       : nullptr;
        if (why) {
            std::fprintf(stderr,
                         "videodrop: submit: --image %s %s (give the path of a PNG, JPEG or "
                         "WebP file)\n",
                         one_line(o.image, 200).c_str(), why);
            return cli::kUsage;
        }
        ext = image_ext(o.image);
    }

    Staging staging;
    const std::string name =
        reserve(cfg, o.name.empty() ? default_name(slug_of) : o.name, ext, staging);
    if (name.empty()) return cli::kFatal;
    const std::string image_name = ext.empty() ? "" : name + ext;
    const std::string manifest_name = name + ".json";

    if (!image_name.empty()) {
        // A huge file would be rejected anyway; say so before copying gigabytes.
        auto bytes = sfs::file_size(o.image, ec);
        if (!ec && static_cast<int64_t>(bytes) > cfg.intake.max_image_bytes) {
            std::fprintf(stderr,
                         "videodrop: --image %s is %ju bytes; the limit is %jd "
                         "(intake.max_image_bytes): use a smaller image\n",
                         o.image.c_str(), static_cast<uintmax_t>(bytes),
                         static_cast<intmax_t>(cfg.intake.max_image_bytes));
            return cli::kUsage;
        }
        // The image itself, not a symlink to it: the inbox takes regular files only.
        std::error_code ec;
        std::string source = std::filesystem::canonical(o.image, ec);
        if (ec) source = o.image;
        if (auto c = fs::copy_durable(source, staging.dir + "/" + image_name,
                                      fs::mode_for_folder(cfg.paths.inbox));
            !c) {
            std::fprintf(stderr, "videodrop: %s\n", c.error().c_str());
            return cli::kFatal;
        }
    }
    const std::string staged = staging.dir + "/" + manifest_name;
    if (auto w = fs::write_atomic(staged, manifest_json(o, shots, image_name).dump(2) + "\n"); !w) {
        std::fprintf(stderr, "videodrop: %s\n", w.error().c_str());
        return cli::kFatal;
    }

    // The same check the daemon makes, so a mistake is reported now and not as a failed job.
    // What it finds is a value given on the command line (or the config's default for it):
    // usage, unless the staged file itself could not be read back.
    if (auto spec = read_manifest(staged, staging.dir, cfg, remix_lookup(cfg.paths.outbox));
        !spec) {
        bool io = false;
        for (const auto& p : spec.error()) {
            std::fprintf(stderr, "videodrop: submit: %s%s\n",
                         p.field.empty() ? "" : (p.field + ": ").c_str(), p.message.c_str());
            io = io || (p.field.empty() && p.code == "unreadable");
        }
        if (!io)
            std::fprintf(stderr,
                         "videodrop: submit: nothing was written to %s; fix the option above and "
                         "run it again\n",
                         inbox.c_str());
        return io ? cli::kFatal : cli::kUsage;
    }

    // The image first: a manifest must never be seen without its image.
    const std::string image_path = inbox + "/" + image_name;
    if (!image_name.empty()) {
        if (int err = fs::rename_noreplace(staging.dir + "/" + image_name, image_path); err != 0) {
            std::fprintf(stderr, "videodrop: cannot move the image to %s: %s\n", image_path.c_str(),
                         std::strerror(err));
            return cli::kFatal;
        }
    }
    const std::string path = inbox + "/" + manifest_name;
    if (int err = fs::rename_noreplace(staged, path); err != 0) {
        if (!image_name.empty()) ::unlink(image_path.c_str());
        std::fprintf(stderr, "videodrop: cannot move the manifest to %s: %s\n", path.c_str(),
                     std::strerror(err));
        return cli::kFatal;
    }
    if (auto s = fs::fsync_dir(inbox); !s) {
        std::fprintf(stderr, "videodrop: %s\n", s.error().c_str());
        return cli::kFatal;
    }
    std::printf("%s\n", path.c_str());
    return cli::kOk;
}

}  // namespace vd::manage
