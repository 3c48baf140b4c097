// Reading one value of a manifest: its type checked, a problem recorded in words a user can act
// on when it is wrong. Shared by the field checks and the storyboard checks.
#pragma once

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/manifest_check.hpp"

namespace vd {

void wrong_type(ManifestCheck& check, const std::string& field, const nlohmann::json& v,
                const std::string& expected);
// "unknown key (OTHERWISE)", or "unknown key, did you mean X?" when one of `known` is close.
std::string unknown_key(const std::string& key, const std::vector<std::string>& known,
                        const std::string& otherwise);
// The field as a string or int; nullopt when absent or of another type (then a problem is
// recorded). `example` shows a valid integer in the problem.
std::optional<std::string> get_string(const nlohmann::json& m, const std::string& field,
                                      ManifestCheck& check);
std::optional<int> get_int(const nlohmann::json& m, const std::string& field, ManifestCheck& check,
                           const std::string& example);
// A prompt trimmed into `out`: valid UTF-8, no control characters, not empty, not too long.
void check_prompt(const std::string& field, const std::string& raw, std::string& out,
                  ManifestCheck& check);
std::vector<std::string> texts(const std::vector<int>& values);

template <class T>
bool contains(const std::vector<T>& items, const T& v) {
    return std::find(items.begin(), items.end(), v) != items.end();
}

}  // namespace vd
