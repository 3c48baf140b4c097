#include "daemon/redact.hpp"

namespace vd {

std::string redact(std::string text, const std::vector<std::string>& keys) {
    for (const auto& k : keys) {
        if (k.empty()) continue;
        for (size_t at = 0; (at = text.find(k, at)) != std::string::npos; at += 5)
            text.replace(at, k.size(), "[key]");
    }
    return text;
}

void redact(HttpResult& r, const std::vector<std::string>& keys) {
    r.body = redact(std::move(r.body), keys);
    r.transport_message = redact(std::move(r.transport_message), keys);
    for (auto& [name, value] : r.headers)
        value = redact(std::move(value), keys);
}

}  // namespace vd
