// Reading [providers.NAME] tables: protocol, secrets' sources, limits, dialect and model table.
#pragma once

#include <map>
#include <string>

#include "config/config.hpp"
#include "config/toml_reader.hpp"

namespace vd {

std::map<std::string, ProviderConfig> read_providers(const toml::table& providers,
                                                     ConfigErrors& errors);

}  // namespace vd
