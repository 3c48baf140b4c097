#include "config/profiles.hpp"

namespace vd {

const ShippedProfile* find_profile(std::string_view name) {
    for (const auto& p : shipped_profiles())
        if (p.name == name) return &p;
    return nullptr;
}

std::string profile_names() {
    std::string out;
    const auto& all = shipped_profiles();
    for (size_t i = 0; i < all.size(); ++i) {
        if (i > 0) out += i + 1 == all.size() ? " or " : ", ";
        out += "\"" + std::string(all[i].name) + "\"";
    }
    return out;
}

}  // namespace vd
