#include "pipeline/intake.hpp"

#include <algorithm>

namespace vd::intake {

namespace {

constexpr Millis kOpenRecheck{250};

std::string to_lower(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

// The extension after the last dot, without it; "" when there is none.
std::string_view extension(std::string_view name) {
    auto dot = name.rfind('.');
    return dot == std::string_view::npos ? std::string_view{} : name.substr(dot + 1);
}

bool is_manifest_extension(std::string_view ext) {
    return ext == "toml" || ext == "json" || ext == "txt";
}

// A file name as it may appear in a message: bytes outside printable ASCII as \xNN, since the
// reason lands in a JSON error file and a name need not be valid UTF-8.
std::string quoted(std::string_view name) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out = "'";
    for (char c : name) {
        auto b = static_cast<unsigned char>(c);
        if (b >= 0x20 && b < 0x7f) {
            out += c;
        } else {
            out += "\\x";
            out += kHex[b >> 4];
            out += kHex[b & 0xF];
        }
    }
    return out + "'";
}

IntakeDecision verdict(Readiness r, std::string reason) {
    IntakeDecision d;
    d.readiness = r;
    d.reason = std::move(reason);
    return d;
}

}  // namespace

std::string_view to_string(Readiness r) {
    switch (r) {
        case Readiness::ready:
            return "ready";
        case Readiness::wait:
            return "wait";
        case Readiness::ignore:
            return "ignore";
        case Readiness::reject:
            return "reject";
    }
    return "?";
}

bool is_manifest_name(std::string_view name) {
    return !name.empty() && name.front() != '.' && is_manifest_extension(extension(name)) &&
           name.size() > extension(name).size() + 1;
}

bool is_image_name(std::string_view name) {
    std::string ext = to_lower(extension(name));
    return ext == "png" || ext == "jpg" || ext == "jpeg" || ext == "webp";
}

bool is_valid_job_name(std::string_view stem) {
    if (stem.empty() || stem.size() > 120) return false;
    for (char c : stem) {
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        if (!ok) return false;
    }
    return true;
}

IntakeDecision decide(const FileObservation& obs, const std::optional<SeenBefore>& prev,
                      TimePoint now, Millis settle, int64_t max_bytes) {
    const std::string_view name = obs.name;
    const std::string ext = to_lower(extension(name));
    if (name.empty() || name.front() == '.') return verdict(Readiness::ignore, "hidden file");
    if (ext == "tmp" || ext == "part")
        return verdict(Readiness::ignore, "partial file, waiting for its rename");
    if (!is_manifest_extension(ext)) {
        return verdict(Readiness::ignore, is_image_name(name)
                                              ? "an image travels with its manifest"
                                              : "not a manifest (.toml, .json or .txt)");
    }

    const std::string file = quoted(name);
    if (obs.symlink)
        return verdict(Readiness::reject,
                       file + " is a symbolic link; put the manifest itself in the inbox");
    if (!obs.regular) return verdict(Readiness::reject, file + " is not a regular file");
    if (extension(name) != ext)
        return verdict(Readiness::reject,
                       file + " has an upper-case extension; use ." + ext + " in lower case");
    std::string_view stem = name.substr(0, name.size() - ext.size() - 1);
    if (!is_valid_job_name(stem))
        return verdict(Readiness::reject, file +
                                              ": the name before the extension must be 1-120 of "
                                              "A-Z a-z 0-9 . _ -");
    if (max_bytes > 0 && obs.size > max_bytes)
        return verdict(Readiness::reject, file + " is " + std::to_string(obs.size) +
                                              " bytes, over the limit of " +
                                              std::to_string(max_bytes));

    const Settling state = settle_state(obs, prev, now, settle);
    IntakeDecision d;
    d.remember = state.remember;
    if (!state.still_settling) {
        d.readiness = Readiness::ready;
        return d;
    }
    const bool unchanged = prev && prev->size == obs.size && prev->mtime_ns == obs.mtime_ns;
    d.readiness = Readiness::wait;
    d.reason = obs.open_for_writing.value_or(false) ? "still open for writing"
               : !prev                              ? "first seen, settling"
               : unchanged                          ? "settling"
                                                    : "still being written";
    d.recheck_at = state.settled_at;
    return d;
}

Settling settle_state(const FileObservation& obs, const std::optional<SeenBefore>& prev,
                      TimePoint now, Millis settle) {
    Settling s;
    const SeenBefore current{obs.size, obs.mtime_ns, now};
    if (obs.open_for_writing.value_or(false)) {
        // Looked at again soon: the writer may close it any moment.
        s.remember = current;
        s.settled_at = now + std::min(std::max(settle, Millis{50}), kOpenRecheck);
        s.still_settling = true;
        return s;
    }
    if (obs.renamed_in || settle.count() <= 0 || obs.age >= settle) {
        s.remember = current;
        s.settled_at = now;
        return s;
    }
    const bool unchanged = prev && prev->size == obs.size && prev->mtime_ns == obs.mtime_ns;
    s.remember = unchanged ? *prev : current;
    s.settled_at = s.remember.first_seen_stable + settle;
    s.still_settling = !(unchanged && now >= s.settled_at);
    return s;
}

bool may_take_image(std::string_view manifest, std::string_view image) {
    std::string_view ext = extension(manifest);
    if (ext != "txt") return true;
    std::string_view stem = manifest.substr(0, manifest.size() - ext.size() - 1);
    return image.size() > stem.size() && image.substr(0, stem.size()) == stem &&
           image[stem.size()] == '.' && image.find('.', stem.size() + 1) == std::string_view::npos;
}

}  // namespace vd::intake
