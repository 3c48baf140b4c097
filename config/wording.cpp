#include "config/wording.hpp"

#include <algorithm>
#include <cctype>

namespace vd {
namespace {

size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<size_t> row(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j)
        row[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= b.size(); ++j) {
            size_t up = row[j];
            bool same = std::tolower(static_cast<unsigned char>(a[i - 1])) ==
                        std::tolower(static_cast<unsigned char>(b[j - 1]));
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (same ? 0 : 1)});
            diag = up;
        }
    }
    return row[b.size()];
}

}  // namespace

std::string did_you_mean(std::string_view word, const std::vector<std::string>& candidates) {
    // A third of the word's length catches typos without suggesting unrelated keys.
    size_t best = std::max<size_t>(1, word.size() / 3) + 1;
    const std::string* pick = nullptr;
    for (const auto& c : candidates) {
        size_t d = edit_distance(word, c);
        if (d < best) best = d, pick = &c;
    }
    return pick ? " (did you mean " + *pick + "?)" : "";
}

std::string one_of(const std::vector<std::string>& items) {
    std::vector<std::string> once;
    for (const auto& i : items)
        if (std::find(once.begin(), once.end(), i) == once.end()) once.push_back(i);
    std::string out;
    for (size_t i = 0; i < once.size(); ++i) {
        if (i > 0) out += i + 1 == once.size() ? " or " : ", ";
        out += once[i];
    }
    return out;
}

std::string use_hint(const std::vector<std::string>& items) {
    if (items.empty()) return " (none is offered: check the provider's models table)";
    return " (use " + one_of(items) + ")";
}

std::string_view trim(std::string_view text) {
    auto space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
    while (!text.empty() && space(text.front()))
        text.remove_prefix(1);
    while (!text.empty() && space(text.back()))
        text.remove_suffix(1);
    return text;
}

}  // namespace vd
