#include "config/manifest_values.hpp"

#include <cstdio>

#include "config/utf8.hpp"
#include "config/wording.hpp"

namespace vd {
namespace {

using nlohmann::json;

constexpr size_t kMaxPromptChars = 32000;

std::string type_name(const json& v) {
    switch (v.type()) {
        case json::value_t::string:
            return "a string";
        case json::value_t::number_integer:
        case json::value_t::number_unsigned:
            return "an integer";
        case json::value_t::number_float:
            return "a number with a fraction";
        case json::value_t::boolean:
            return "a boolean";
        case json::value_t::array:
            return "a list";
        case json::value_t::object:
            return "a table";
        default:
            return "null";
    }
}

}  // namespace

void wrong_type(ManifestCheck& check, const std::string& field, const json& v,
                const std::string& expected) {
    check.add(field, "wrong_type", "expected " + expected + ", got " + type_name(v));
}

std::string unknown_key(const std::string& key, const std::vector<std::string>& known,
                        const std::string& otherwise) {
    std::string hint = did_you_mean(key, known);
    return "unknown key" + (hint.empty() ? " (" + otherwise + ")" : hint);
}

// The field as a string; nullopt when absent or of another type (then a problem is recorded).
std::optional<std::string> get_string(const json& m, const std::string& field,
                                      ManifestCheck& check) {
    auto it = m.find(field);
    if (it == m.end()) return std::nullopt;
    if (!it->is_string()) return wrong_type(check, field, *it, "a string"), std::nullopt;
    return it->get<std::string>();
}

std::optional<int> get_int(const json& m, const std::string& field, ManifestCheck& check,
                           const std::string& example) {
    auto it = m.find(field);
    if (it == m.end()) return std::nullopt;
    if (!it->is_number_integer()) {
        std::string expected = "an integer such as " + example;
        if (it->is_string()) expected += " (without quotes)";
        return wrong_type(check, field, *it, expected), std::nullopt;
    }
    constexpr int64_t kLimit = 1'000'000'000;
    bool in_range = it->is_number_unsigned()
                        ? it->get<uint64_t>() <= uint64_t{kLimit}
                        : it->get<int64_t>() >= -kLimit && it->get<int64_t>() <= kLimit;
    if (!in_range)
        return check.add(field, "wrong_type", it->dump() + " is out of range"), std::nullopt;
    return static_cast<int>(it->get<int64_t>());
}

std::vector<std::string> texts(const std::vector<int>& values) {
    std::vector<std::string> out;
    for (int v : values)
        out.push_back(std::to_string(v));
    return out;
}

void check_prompt(const std::string& field, const std::string& raw, std::string& out,
                  ManifestCheck& check) {
    // Prompts from JSON may carry escapes the file-level UTF-8 check couldn't see.
    if (find_invalid_utf8(raw)) return check.add(field, "invalid_utf8", "is not valid UTF-8");
    out = std::string(trim(raw));
    // A JSON "\u0000" or a raw control byte would reach the provider as it is.
    if (auto at = find_control_char(out)) {
        char code[8];
        std::snprintf(code, sizeof code, "U+%04X", static_cast<unsigned char>(out[*at]));
        return check.add(field, "bad_prompt",
                         "contains the control character " + std::string(code) + " at byte " +
                             std::to_string(*at + 1) +
                             " (remove it; only line breaks and tabs may appear)");
    }
    if (out.empty())
        return check.add(field, "missing_prompt", "is empty (write what the video should show)");
    size_t chars = count_code_points(out);
    if (chars > kMaxPromptChars)
        check.add(
            field, "prompt_too_long",
            "is " + std::to_string(chars) + " characters long; the limit is 32000 (shorten it)");
}

}  // namespace vd
