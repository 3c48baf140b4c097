// A request body as the endpoints see it: JSON, or a multipart form with file parts.
#pragma once

#include <map>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "mock/api_error.hpp"
#include "mock/http_lib.hpp"

namespace vd::mock {

struct Upload {
    std::string bytes;
    std::string filename, content_type;
};

struct Body {
    nlohmann::json fields = nlohmann::json::object();  // JSON values as sent; strings for a form
    std::map<std::string, Upload> files;  // form file parts, and JSON `data:` image URLs decoded
    bool form = false;
    std::optional<ApiError> error;  // the body could not be read
};

Body parse_body(const httplib::Request& req);
// A "data:TYPE;base64,..." string as an upload; nothing when it is not one.
std::optional<Upload> upload_from_data_url(const nlohmann::json& value);
// The fields as the request log keeps them: long `data:` URLs shortened.
nlohmann::json loggable_fields(const nlohmann::json& fields);

}  // namespace vd::mock
