// read_manifest: one file (.toml, .json or .txt with a same-stem image) into a checked JobSpec.
#include "config/manifest.hpp"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <set>

#include "config/manifest_check.hpp"
#include "config/manifest_fields.hpp"
#include "config/manifest_image.hpp"
#include "config/toml_json.hpp"
#include "config/utf8.hpp"
#include "config/wording.hpp"

namespace vd {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

bool ends_with(std::string_view s, std::string_view suffix) {
    return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// A JSON nested this deep is an attack or an accident, and copying it would recurse as deep.
constexpr int kMaxDepth = 64;

bool too_deep(std::string_view text) {
    int depth = 0;
    bool in_string = false, escaped = false;
    for (char c : text) {
        if (in_string) {
            if (escaped)
                escaped = false;
            else if (c == '\\')
                escaped = true;
            else if (c == '"')
                in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > kMaxDepth) return true;
        } else if (c == ']' || c == '}') {
            --depth;
        }
    }
    return false;
}

std::optional<json> parse_json(const std::string& text, ManifestCheck& check) {
    if (too_deep(text)) {
        check.add("", "parse_error", "is nested deeper than 64 levels (flatten it)");
        return std::nullopt;
    }
    try {
        // nlohmann keeps the last of two equal keys; a manifest that says a thing twice is
        // refused instead, naming the key.
        std::vector<std::set<std::string>> open_objects;
        std::string duplicate;
        auto watch = [&](int, json::parse_event_t event, json& parsed) {
            if (event == json::parse_event_t::object_start) open_objects.emplace_back();
            if (event == json::parse_event_t::object_end && !open_objects.empty())
                open_objects.pop_back();
            if (event == json::parse_event_t::key && !open_objects.empty() &&
                !open_objects.back().insert(parsed.get<std::string>()).second && duplicate.empty())
                duplicate = parsed.get<std::string>();
            return true;
        };
        json m = json::parse(text, watch);
        if (!duplicate.empty()) {
            check.add(duplicate, "duplicate_key",
                      "appears twice in one object; keep one (JSON readers disagree on which "
                      "wins)");
            return std::nullopt;
        }
        if (!m.is_object()) {
            check.add("", "wrong_type", "must be a JSON object {\"prompt\": ...}");
            return std::nullopt;
        }
        return m;
    } catch (const json::exception& e) {
        // Syntax errors, and numbers too large for a double (out_of_range.406), which once
        // escaped this function and stopped the daemon (found by fuzz_manifest).
        // e.what() starts with "[json.exception.parse_error.101] "; the rest says where.
        std::string what = e.what();
        if (auto at = what.find("] "); at != std::string::npos) what = what.substr(at + 2);
        check.add("", "parse_error", "not valid JSON: " + what + " (fix the syntax)");
        return std::nullopt;
    }
}

std::optional<json> parse_toml(const std::string& text, const std::string& path,
                               ManifestCheck& check) {
    try {
        auto table = toml::parse(text, std::string_view(path));
        return toml_to_json(table);
    } catch (const toml::parse_error& e) {
        check.add("", "parse_error",
                  "not valid TOML at line " + std::to_string(e.source().begin.line) + ": " +
                      std::string(e.description()) + " (fix the syntax)");
        return std::nullopt;
    }
}

// A .txt is the prompt; a same-stem image beside it is its reference image.
json txt_manifest(const std::string& text, const std::string& dir, const std::string& stem,
                  JobSpec& job, ManifestCheck& check) {
    json m = {{"prompt", std::string(trim(text))}};
    auto images = companion_images(dir, stem);
    if (images.size() > 1)
        check.add("image", "bad_image_path",
                  one_of(images) + " all sit beside the prompt (keep only one)");
    else if (images.size() == 1) {
        m["image"] = images.front();
        job.companion_files.push_back(images.front());
    }
    return m;
}

// The manifest's bytes, at most intake.max_manifest_bytes of them. A manifest that is a symlink
// out of its folder could smuggle any readable file (a key file, say) into a prompt.
std::optional<std::string> read_text(const std::string& path, const std::string& dir,
                                     const Config& cfg, ManifestCheck& check) {
    std::error_code ec;
    if (fs::is_symlink(fs::symlink_status(path, ec)) && !stays_inside(dir, path)) {
        check.add("", "unreadable",
                  "is a symlink that leads outside " + dir + " (copy the file in instead)");
        return std::nullopt;
    }
    auto status = fs::status(path, ec);
    if (ec || status.type() != fs::file_type::regular) {
        check.add("", "unreadable",
                  ec ? "cannot read it: " + ec.message() : "is not a regular file");
        return std::nullopt;
    }
    const int64_t limit = cfg.intake.max_manifest_bytes;
    const auto size = static_cast<int64_t>(fs::file_size(path, ec));
    if (!ec && size > limit) {
        check.add("", "too_large",
                  "is " + std::to_string(size) + " bytes; the limit is " + std::to_string(limit) +
                      " (intake.max_manifest_bytes): is it really a manifest?");
        return std::nullopt;
    }
    // One byte more than allowed tells a file that grew since the stat.
    std::string text(static_cast<size_t>(std::min(size, limit)) + 1, '\0');
    std::ifstream in(path, std::ios::binary);
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    if (ec || in.bad() || !in.is_open()) {
        check.add("", "unreadable", "cannot read it");
        return std::nullopt;
    }
    text.resize(static_cast<size_t>(in.gcount()));
    if (static_cast<int64_t>(text.size()) > limit) {
        check.add("", "too_large",
                  "grew past " + std::to_string(limit) +
                      " bytes (intake.max_manifest_bytes) while being read; write it elsewhere "
                      "and rename it in");
        return std::nullopt;
    }
    if (text.rfind("\xEF\xBB\xBF", 0) == 0) text.erase(0, 3);  // editors on Windows add a BOM
    return text;
}

}  // namespace

std::string ManifestProblem::format() const {
    return file + ": " + (field.empty() ? "" : field + ": ") + message;
}

bool is_valid_name(std::string_view stem) {
    if (stem.empty() || stem.size() > 120) return false;
    for (char c : stem)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-')
            return false;
    return true;
}

bool is_manifest_name(const std::string& filename) {
    if (filename.empty() || filename.front() == '.') return false;
    if (ends_with(filename, ".tmp") || ends_with(filename, ".part")) return false;
    return ends_with(filename, ".toml") || ends_with(filename, ".json") ||
           ends_with(filename, ".txt");
}

tl::expected<JobSpec, std::vector<ManifestProblem>> read_manifest(const std::string& path,
                                                                  const std::string& dir,
                                                                  const Config& cfg,
                                                                  const RemixLookup& remix) {
    ManifestCheck check{path, {}, remix ? &remix : nullptr};
    fs::path file(path);
    JobSpec job;
    job.name = file.stem().string();
    job.manifest_file = file.filename().string();
    const std::string ext = file.extension().string();

    if (!is_manifest_name(job.manifest_file)) {
        check.add("", "bad_name", "is not a manifest (name it NAME.toml, NAME.json or NAME.txt)");
        return tl::unexpected(check.problems);
    }
    if (!is_valid_name(job.name))
        check.add("", "bad_name",
                  "\"" + job.name + "\" is not a valid job name (rename the file: 1-120 letters, " +
                      "digits, '.', '_' or '-')");

    auto text = read_text(path, dir, cfg, check);
    if (!text) return tl::unexpected(check.problems);
    if (auto bad = find_invalid_utf8(*text)) {
        size_t line = 1 + std::count(text->begin(), text->begin() + *bad, '\n');
        check.add(ext == ".txt" ? "prompt" : "", "invalid_utf8",
                  "is not valid UTF-8 at line " + std::to_string(line) + " (save it as UTF-8)");
        return tl::unexpected(check.problems);
    }

    std::optional<json> m;
    if (ext == ".json")
        m = parse_json(*text, check);
    else if (ext == ".toml")
        m = parse_toml(*text, path, check);
    else
        m = txt_manifest(*text, dir, job.name, job, check);
    if (!m) return tl::unexpected(check.problems);

    check_fields(*m, dir, cfg, job, check);
    if (!check.problems.empty()) return tl::unexpected(check.problems);
    return job;
}

}  // namespace vd
