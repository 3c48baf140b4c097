// One libcurl transfer of the HTTP client, and how a request becomes one: options, body,
// credentials, the callbacks that receive the answer, and what a curl error means for the
// request's outcome. Private to the HTTP client (http_client.cpp).
#pragma once

#include <curl/curl.h>

#include <string>
#include <string_view>

#include "daemon/http_client.hpp"

namespace vd {

struct HttpClient::Transfer {
    uint64_t id = 0;
    CURL* easy = nullptr;
    curl_slist* headers = nullptr;
    curl_mime* mime = nullptr;
    bool in_multi = false;
    char error[CURL_ERROR_SIZE] = {};
    std::string method;
    std::string log_url;  // without query or userinfo: signed links carry secrets there
    HttpResult result;
    int status_seen = 0;  // from the last status line, for the write callbacks
    size_t body_limit = 0;
    bool body_too_large = false;
    Done done;
    Piece piece;
    // Downloads only.
    bool is_download = false;
    std::string dest;
    int fd = -1;
    int64_t bytes = 0;
    DownloadLimits limits;
    int write_errno = 0;
    int copy_body = -1;  // -1 undecided, 0 no, 1 yes
    DownloadDone download_done;
};

namespace http_detail {

std::string media_type(std::string_view content_type);
// Without query or userinfo: signed links carry secrets there.
std::string loggable_url(const std::string& url);
// Whether the request can have reached the server: only then is its outcome unknown.
TransportError classify(CURLcode code, long request_size);
CURLcode set_options(HttpClient::Transfer& t, const HttpRequest& req,
                     const HttpClientOptions& options, const ProviderEndpoint* endpoint);
// Method, caller headers and body (JSON or multipart). Returns an error message or "".
std::string set_body(HttpClient::Transfer& t, const HttpRequest& req);
// Credentials only for the provider's own scheme://host:port; a keyless provider gets none.
std::string add_auth(HttpClient::Transfer& t, const HttpRequest& req,
                     const ProviderEndpoint& endpoint);

}  // namespace http_detail
}  // namespace vd
