// The error answers of the protocol: {"error": {"message", "type", "param", "code"}}.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace vd::mock {

struct ApiError {
    int status = 400;
    std::string type = "invalid_request_error";
    std::string code;
    std::string param;  // "" is sent as null
    std::string message;
};

nlohmann::json to_json(const ApiError& e);

ApiError invalid_value(const std::string& param, const std::string& message);
ApiError invalid_type(const std::string& param, const std::string& message);
ApiError not_found(const std::string& code, const std::string& message);

}  // namespace vd::mock
