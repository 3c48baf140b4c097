// Errors and retries: how an answer is classified (retryable, terminal, ambiguous, fatal to the
// key), as the reference protocol and its gateways mean their status codes and headers.
#include "pipeline/openai_videos/openai_videos.hpp"
#include "pipeline/openai_videos/text.hpp"

namespace vd::openai_videos {

using namespace text;

Classified classify(const HttpResult& r, bool is_create, TimePoint now) {
    Classified c;
    bool no_response = r.transport == TransportError::after_send ||
                       (r.transport == TransportError::none && r.status <= 0);
    if (r.transport == TransportError::not_sent) {
        c.cls = ErrorClass::retryable;
        c.code = "transport_not_sent";
        return c;
    }
    if (no_response) {
        c.cls = is_create ? ErrorClass::ambiguous : ErrorClass::retryable;
        c.code = "transport_after_send";
        return c;
    }
    if (r.status >= 200 && r.status < 300) return c;

    c.error = parse_error(r);
    c.retry_after = retry_after(r, now);
    c.code = c.error && !c.error->code.empty() ? c.error->code : "http_" + std::to_string(r.status);
    const std::string code = c.error ? to_lower(c.error->code) : "";
    const bool server_error = r.status >= 500;

    // Credentials and money are about the provider, not this request: no header changes that.
    if (r.status == 401 || r.status == 403 || code == "insufficient_quota" ||
        code == "billing_hard_limit_reached" || code == "invalid_api_key") {
        c.cls = ErrorClass::provider_fatal;
        return c;
    }
    auto should_retry = r.header("x-should-retry");
    std::string hint = should_retry ? to_lower(trim(*should_retry)) : "";
    if (hint == "false") {
        c.cls = ErrorClass::terminal;
    } else if (hint == "true" || r.status == 408 || r.status == 409 || r.status == 429 ||
               server_error || code == "rate_limit_exceeded") {
        // A create that reached a failing server may still have made a video.
        c.cls = is_create && server_error ? ErrorClass::ambiguous : ErrorClass::retryable;
    } else {
        c.cls = ErrorClass::terminal;
    }
    return c;
}

}  // namespace vd::openai_videos
