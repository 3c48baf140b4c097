// A TOML document as JSON, so TOML and JSON manifests are checked by the same code.
#pragma once

#include <toml++/toml.h>
#include <nlohmann/json.hpp>

namespace vd {

// Dates and times become their TOML text; everything else maps one to one.
nlohmann::json toml_to_json(const toml::node& node);

}  // namespace vd
