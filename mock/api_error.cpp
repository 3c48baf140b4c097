#include "mock/api_error.hpp"

namespace vd::mock {

nlohmann::json to_json(const ApiError& e) {
    auto null_if_empty = [](const std::string& s) {
        return s.empty() ? nlohmann::json(nullptr) : nlohmann::json(s);
    };
    return {{"error",
             {{"message", e.message},
              {"type", e.type},
              {"param", null_if_empty(e.param)},
              {"code", null_if_empty(e.code)}}}};
}

ApiError invalid_value(const std::string& param, const std::string& message) {
    return {400, "invalid_request_error", "invalid_value", param, message};
}

ApiError invalid_type(const std::string& param, const std::string& message) {
    return {400, "invalid_request_error", "invalid_type", param, message};
}

ApiError not_found(const std::string& code, const std::string& message) {
    return {404, "invalid_request_error", code, "", message};
}

}  // namespace vd::mock
