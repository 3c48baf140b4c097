#include "daemon/http_transfer.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <optional>

#include <openssl/evp.h>
#include <nlohmann/json.hpp>

namespace vd::http_detail {
namespace {

// The receive buffer of a download (libcurl allows up to CURL_MAX_READ_SIZE).
constexpr long kDownloadBuffer = 512 * 1024;

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front())))
        s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())))
        s.remove_suffix(1);
    return s;
}

struct Origin {
    std::string scheme, host, port;
    bool operator==(const Origin&) const = default;
};

std::optional<Origin> origin_of(const std::string& url) {
    CURLU* u = curl_url();
    if (!u) return std::nullopt;
    std::optional<Origin> out;
    if (curl_url_set(u, CURLUPART_URL, url.c_str(), 0) == CURLUE_OK) {
        char *scheme = nullptr, *host = nullptr, *port = nullptr;
        if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
            curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
            curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK)
            out = Origin{lower(scheme), lower(host), port};
        curl_free(scheme);
        curl_free(host);
        curl_free(port);
    }
    curl_url_cleanup(u);
    return out;
}

std::string base64(std::string_view in) {
    std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
    int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(in.data()),
                            static_cast<int>(in.size()));
    out.resize(static_cast<size_t>(n));
    return out;
}

// The JSON body with each embedded file put in at its pointer as a base64 data: URL.
std::string body_with_files(const HttpRequest& req, std::string& body) {
    nlohmann::json j = nlohmann::json::parse(req.body, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) return "the request body is not JSON, so no file can go into it";
    for (const auto& f : req.embed) {
        std::ifstream in(f.file_path, std::ios::binary);
        std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        if (!in.good() && !in.eof()) return "cannot read the file for " + f.pointer;
        if (bytes.empty()) return "the file for " + f.pointer + " is empty or unreadable";
        try {
            j[nlohmann::json::json_pointer(f.pointer)] =
                "data:" + f.content_type + ";base64," + base64(bytes);
        } catch (const nlohmann::json::exception& e) {
            return "cannot put the file at " + f.pointer + ": " + e.what();
        }
    }
    body = j.dump();
    return {};
}

std::string auth_header(AuthScheme scheme, const std::string& key) {
    switch (scheme) {
        case AuthScheme::bearer:
            return "Authorization: Bearer " + key;
        case AuthScheme::bare:
            return "Authorization: " + key;
        case AuthScheme::basic:
            return "Authorization: Basic " + base64(key);
    }
    return {};
}

size_t on_header(char* data, size_t size, size_t count, void* userp) noexcept {
    auto* t = static_cast<HttpClient::Transfer*>(userp);
    size_t len = size * count;
    try {
        std::string_view line = trim(std::string_view(data, len));
        if (line.substr(0, 5) == "HTTP/") {
            // A new response (redirect hop, 100 Continue): only the last one's headers count.
            t->result.headers.clear();
            auto sp = line.find(' ');
            t->status_seen = sp == std::string_view::npos ? 0 : std::atoi(line.data() + sp + 1);
            return len;
        }
        auto colon = line.find(':');
        if (colon == std::string_view::npos) return len;
        t->result.headers.emplace_back(lower(std::string(trim(line.substr(0, colon)))),
                                       std::string(trim(line.substr(colon + 1))));
        return len;
    } catch (...) {
        return 0;  // never throw into curl; aborts the transfer with CURLE_WRITE_ERROR
    }
}

size_t on_body(char* data, size_t size, size_t count, void* userp) noexcept {
    auto* t = static_cast<HttpClient::Transfer*>(userp);
    size_t len = size * count;
    if (t->result.body.size() + len > t->body_limit) {
        t->body_too_large = true;
        return 0;
    }
    try {
        t->result.body.append(data, len);
        if (t->piece && t->status_seen >= 200 && t->status_seen < 300)
            t->piece(std::string_view(data, len));
    } catch (...) {
        return 0;
    }
    return len;
}

bool answer_worth_copying(const HttpClient::Transfer& t) {
    if (t.status_seen >= 400) return true;
    auto ct = t.result.header("content-type");
    if (!ct) return false;
    std::string type = media_type(*ct);
    return type.find("json") != std::string::npos || type.rfind("text/", 0) == 0;
}

size_t on_file(char* data, size_t size, size_t count, void* userp) noexcept {
    auto* t = static_cast<HttpClient::Transfer*>(userp);
    size_t len = size * count;
    // A chunked or lying body is stopped here; an announced one by CURLOPT_MAXFILESIZE_LARGE.
    if (t->bytes + static_cast<int64_t>(len) > t->limits.max_bytes) {
        t->body_too_large = true;
        return 0;
    }
    for (size_t off = 0; off < len;) {
        ssize_t n = ::write(t->fd, data + off, len - off);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            t->write_errno = errno;
            return 0;
        }
        off += static_cast<size_t>(n);
    }
    t->bytes += static_cast<int64_t>(len);
    try {
        if (t->copy_body < 0) t->copy_body = answer_worth_copying(*t) ? 1 : 0;
        if (t->copy_body == 1 && t->result.body.size() < t->body_limit)
            t->result.body.append(data, std::min(len, t->body_limit - t->result.body.size()));
    } catch (...) {
        t->copy_body = 0;  // the copy is a courtesy; the file is what counts
    }
    return len;
}

}  // namespace

std::string media_type(std::string_view content_type) {
    return lower(std::string(trim(content_type.substr(0, content_type.find(';')))));
}

std::string loggable_url(const std::string& url) {
    std::string u = url.substr(0, url.find_first_of("?#"));
    auto scheme_end = u.find("://");
    if (scheme_end != std::string::npos) {
        auto host = scheme_end + 3;
        auto at = u.find('@', host);
        if (at != std::string::npos && at < u.find('/', host)) u.erase(host, at + 1 - host);
    }
    return u;
}

TransportError classify(CURLcode code, long request_size) {
    switch (code) {
        case CURLE_OK:
            return TransportError::none;
        case CURLE_UNSUPPORTED_PROTOCOL:
        case CURLE_URL_MALFORMAT:
        case CURLE_COULDNT_RESOLVE_PROXY:
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_CONNECT:
        case CURLE_PROXY:
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CERTPROBLEM:
        case CURLE_SSL_CIPHER:
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_SSL_ENGINE_NOTFOUND:
        case CURLE_SSL_ENGINE_SETFAILED:
            return TransportError::not_sent;
        default:
            return request_size == 0 ? TransportError::not_sent : TransportError::after_send;
    }
}

CURLcode set_options(HttpClient::Transfer& t, const HttpRequest& req,
                     const HttpClientOptions& options, const ProviderEndpoint* endpoint) {
    CURL* e = t.easy;
    CURLcode rc = CURLE_OK;
    auto set = [&](CURLoption opt, auto value) {
        if (rc == CURLE_OK) rc = curl_easy_setopt(e, opt, value);
    };
    set(CURLOPT_URL, req.url.c_str());
    set(CURLOPT_PRIVATE, static_cast<void*>(&t));
    set(CURLOPT_ERRORBUFFER, t.error);
    set(CURLOPT_NOSIGNAL, 1L);
    set(CURLOPT_USERAGENT, "videodrop/" VD_VERSION);
    set(CURLOPT_PROTOCOLS_STR, "http,https");
    set(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    if (req.side_effects) {
        // Sent once, never repeated underneath the engine (a repeated create is a second bill):
        // - libcurl resends a request whose reused keep-alive connection died before any answer
        //   byte ("Connection died, retrying a fresh connect"); it does so only for a reused
        //   connection, so these requests take a fresh one and leave it closed behind them.
        // - HTTP/2 lets libcurl replay a stream the server refused (REFUSED_STREAM, GOAWAY);
        //   HTTP/1.1 has no such replay.
        // - A 307/308 would resend the body to another URL: redirects are not followed, and the
        //   3xx reaches the engine as an answer.
        // - No multi-pass authentication is set (our Authorization header goes out at once), the
        //   body never waits on "Expect: 100-continue" (see set_body), and a proxy that refuses
        //   (407) ends the transfer: libcurl sends nothing twice for any of them.
        set(CURLOPT_FRESH_CONNECT, 1L);
        set(CURLOPT_FORBID_REUSE, 1L);
        set(CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1));
        set(CURLOPT_FOLLOWLOCATION, 0L);
    } else {
        // curl (>= 7.83) drops our Authorization header on a redirect to another host, port or
        // scheme; the tests hold it to that.
        set(CURLOPT_FOLLOWLOCATION, 1L);
        set(CURLOPT_MAXREDIRS, options.max_redirects);
    }
    set(CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options.connect_timeout.count()));
    set(CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
    set(CURLOPT_HEADERFUNCTION, &on_header);
    set(CURLOPT_HEADERDATA, static_cast<void*>(&t));
    set(CURLOPT_WRITEDATA, static_cast<void*>(&t));
    if (t.is_download) {
        set(CURLOPT_WRITEFUNCTION, &on_file);
        // A video body is megabytes: read it in large pieces (curl's default is 16 KiB), a
        // quarter of the loop turns and write()s. Pages of the buffer a small body never
        // reaches are never touched.
        set(CURLOPT_BUFFERSIZE, kDownloadBuffer);
        // Bounded three ways: bytes, average speed (a trickle of a few bytes a second is cut
        // after low_speed_time) and the whole transfer's time.
        const DownloadLimits& l = t.limits;
        set(CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(l.max_bytes));
        set(CURLOPT_LOW_SPEED_LIMIT,
            static_cast<long>(std::max<int64_t>(1, l.min_bytes_per_second)));
        set(CURLOPT_LOW_SPEED_TIME,
            static_cast<long>(std::max<int64_t>(1, l.low_speed_time.count() / 1000)));
        if (l.deadline.count() > 0) set(CURLOPT_TIMEOUT_MS, static_cast<long>(l.deadline.count()));
    } else {
        set(CURLOPT_WRITEFUNCTION, &on_body);
        Millis total = req.timeout.count() > 0 ? req.timeout : options.api_timeout;
        set(CURLOPT_TIMEOUT_MS, static_cast<long>(total.count()));
    }
    if (endpoint && !endpoint->proxy.empty()) set(CURLOPT_PROXY, endpoint->proxy.c_str());
    return rc;
}

std::string set_body(HttpClient::Transfer& t, const HttpRequest& req) {
    CURL* e = t.easy;
    bool has_content_type = false;
    for (const auto& [name, value] : req.headers) {
        std::string n = lower(name);
        if (n == "authorization") continue;  // credentials come from the endpoint, nowhere else
        has_content_type = has_content_type || n == "content-type";
        t.headers = curl_slist_append(t.headers, (name + ": " + value).c_str());
    }
    // curl would wait up to a second for "100 Continue" before sending a large body.
    t.headers = curl_slist_append(t.headers, "Expect:");

    CURLcode rc = CURLE_OK;
    if (!req.form.empty()) {
        t.mime = curl_mime_init(e);
        for (const auto& part : req.form) {
            curl_mimepart* p = curl_mime_addpart(t.mime);
            curl_mime_name(p, part.name.c_str());
            if (part.file_path.empty()) {
                curl_mime_data(p, part.value.data(), part.value.size());
                continue;
            }
            if (curl_mime_filedata(p, part.file_path.c_str()) != CURLE_OK)
                return "cannot read the file for form part '" + part.name + "'";
            if (!part.content_type.empty()) curl_mime_type(p, part.content_type.c_str());
        }
        rc = curl_easy_setopt(e, CURLOPT_MIMEPOST, t.mime);
    } else if (!req.body.empty() || req.method == "POST" || req.method == "PUT" ||
               req.method == "PATCH") {
        if (!has_content_type)
            t.headers = curl_slist_append(t.headers, "Content-Type: application/json");
        std::string with_files;
        if (!req.embed.empty())
            if (std::string error = body_with_files(req, with_files); !error.empty()) return error;
        const std::string& body = req.embed.empty() ? req.body : with_files;
        rc = curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
        if (rc == CURLE_OK) rc = curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, body.c_str());
    } else if (req.method == "HEAD") {
        rc = curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    }
    bool custom = req.method != "GET" && req.method != "HEAD" && req.method != "POST";
    if (rc == CURLE_OK && custom)
        rc = curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, req.method.c_str());
    if (rc != CURLE_OK) return std::string("curl option: ") + curl_easy_strerror(rc);
    return {};
}

std::string add_auth(HttpClient::Transfer& t, const HttpRequest& req,
                     const ProviderEndpoint& endpoint) {
    auto target = origin_of(req.url);
    if (!target || target != origin_of(endpoint.base_url) || endpoint.keys.empty()) return {};
    if (req.key_slot < 0 || static_cast<size_t>(req.key_slot) >= endpoint.keys.size())
        return "provider '" + req.provider + "' has no key in slot " + std::to_string(req.key_slot);
    t.headers = curl_slist_append(t.headers,
                                  auth_header(endpoint.auth, endpoint.keys[req.key_slot]).c_str());
    return {};
}

}  // namespace vd::http_detail
