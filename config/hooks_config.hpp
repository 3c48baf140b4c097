// Reading the [hooks] table: the programs run and the webhook notified when a job ends.
#pragma once

#include "config/config.hpp"
#include "config/toml_reader.hpp"

namespace vd {

void read_hooks(const toml::table& t, HooksConfig& h, ConfigErrors& errors);

}  // namespace vd
