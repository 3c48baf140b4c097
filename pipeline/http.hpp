// HTTP requests and results as plain values: the core builds them, the shell carries them out.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "pipeline/types.hpp"

namespace vd {

// One part of a multipart/form-data body: a field, or a file the shell attaches from disk.
struct FormPart {
    std::string name;
    std::string value;         // for a plain field
    std::string file_path;     // non-empty: attach this file
    std::string content_type;  // for a file part
};

// A file the shell puts into a JSON body as a base64 data: URL, at a JSON pointer
// ("/input_reference", "/frame_images/0/image_url/url"): the core never reads files.
struct EmbeddedFile {
    std::string pointer;
    std::string file_path;
    std::string content_type;
};

struct HttpRequest {
    std::string method = "GET";
    std::string url;                                           // absolute
    std::vector<std::pair<std::string, std::string>> headers;  // never credentials
    std::string body;                                          // JSON body, when not multipart
    std::vector<FormPart> form;                                // non-empty: multipart/form-data
    std::vector<EmbeddedFile> embed;                           // into `body`, before sending
    // Credentials are added by the shell for this key slot of the provider's pool, and only when
    // the URL is on the provider's own host (never to a CDN link).
    std::string provider;
    int key_slot = 0;
    bool authenticated = true;
    // A request that changes something at the provider (a create, a remix, a delete). The shell
    // sends it exactly once: never on a reused connection, never again by a library's own retry.
    bool side_effects = false;
    // An answer read as it arrives (server-sent events): the shell hands each piece to
    // Engine::on_stream while the transfer runs, and the whole body to on_http at its end.
    bool stream = false;
    Millis timeout{0};  // the whole exchange; 0: the shell's default for API requests
};

// How a transfer ended below HTTP.
enum class TransportError {
    none,
    not_sent,    // failed before the request went out (DNS, connect refused, TLS): safe to retry
    after_send,  // timeout or reset after the request went out: the outcome is unknown
};

struct HttpResult {
    TransportError transport = TransportError::none;
    std::string transport_message;  // curl's words, for logs and error files
    int status = 0;
    std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
    std::string body;          // empty for downloads (streamed to a file)
    std::string content_type;  // lower-cased, without parameters

    // First header with this (lower-case) name.
    std::optional<std::string> header(std::string_view name) const;
    std::string request_id() const;  // x-request-id, or "" when absent
};

}  // namespace vd
