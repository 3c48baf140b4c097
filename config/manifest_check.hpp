// The problems found in one manifest so far: every check adds to it instead of stopping.
#pragma once

#include <algorithm>
#include <string>
#include <vector>

#include "config/manifest.hpp"

namespace vd {

struct ManifestCheck {
    std::string file;
    std::vector<ManifestProblem> problems;
    const RemixLookup* remix = nullptr;  // resolves `remix_of` by a delivered job's name

    void add(std::string field, std::string code, std::string message) {
        problems.push_back({file, std::move(field), std::move(message), std::move(code)});
    }
    bool failed(std::string_view field) const {
        return std::any_of(problems.begin(), problems.end(),
                           [&](const ManifestProblem& p) { return p.field == field; });
    }
};

}  // namespace vd
