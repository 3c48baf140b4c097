// The config file: parse_config must accept it or explain why, never crash.
#include <cstdint>
#include <string_view>

#include "config/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    auto cfg = vd::parse_config(text, "fuzz.toml");
    if (!cfg && cfg.error().empty()) __builtin_trap();  // a refusal always says why
    if (cfg) (void)cfg->settings();
    return 0;
}
