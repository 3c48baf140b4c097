#include "config/toml_json.hpp"

#include <sstream>

namespace vd {

nlohmann::json toml_to_json(const toml::node& node) {
    if (const auto* t = node.as_table()) {
        auto out = nlohmann::json::object();
        for (const auto& [key, value] : *t)
            out[std::string(key.str())] = toml_to_json(value);
        return out;
    }
    if (const auto* a = node.as_array()) {
        auto out = nlohmann::json::array();
        for (const auto& value : *a)
            out.push_back(toml_to_json(value));
        return out;
    }
    if (const auto* s = node.as_string()) return s->get();
    if (const auto* i = node.as_integer()) return i->get();
    if (const auto* f = node.as_floating_point()) return f->get();
    if (const auto* b = node.as_boolean()) return b->get();
    std::ostringstream text;
    if (const auto* d = node.as_date())
        text << d->get();
    else if (const auto* tm = node.as_time())
        text << tm->get();
    else if (const auto* dt = node.as_date_time())
        text << dt->get();
    return text.str();
}

}  // namespace vd
