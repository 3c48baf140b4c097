#include "pipeline/http.hpp"

namespace vd {

std::optional<std::string> HttpResult::header(std::string_view name) const {
    for (const auto& [k, v] : headers)
        if (k == name) return v;
    return std::nullopt;
}

std::string HttpResult::request_id() const {
    return header("x-request-id").value_or("");
}

}  // namespace vd
