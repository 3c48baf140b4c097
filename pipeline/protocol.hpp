// The protocol seam: how the engine talks to a provider without knowing its wire format.
//
// A protocol turns the engine's intents (create this job, how is that video, list recent videos,
// fetch the result, are these credentials good) into HTTP requests, and a provider's answers
// into the few events the engine's states react to: a classified outcome (ok, retryable,
// ambiguous, terminal, fatal to the key) and what the provider says of a video (accepted with
// an id, queued or rendering with progress, ready with where to fetch it, failed with words).
//
// Why an abstract class and not a std::variant of protocols: the engine never needs to know
// which protocol it holds, only to ask it the same questions. With a class, a new protocol is
// one folder (pipeline/NAME/) and one line in pipeline/protocols.cpp; with a variant every
// visitor in the engine would have to name every alternative. The calls are a handful per
// request, so the virtual dispatch costs nothing that matters.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

#include "pipeline/http.hpp"
#include "pipeline/types.hpp"

namespace vd::protocol {

enum class VideoStatus { queued, in_progress, completed, failed, cancelled, unknown };
std::string_view to_string(VideoStatus s);

struct ProviderError {
    std::string code;  // "moderation_blocked", "invalid_api_key", ...
    std::string message;
    std::string type;
    std::string param;
    nlohmann::json raw = nlohmann::json::object();  // the error object as sent
};

// What a provider says of one video: the event the engine's render states react to. Only id
// and status are required.
struct Video {
    std::string id;
    std::string status_word;
    VideoStatus status = VideoStatus::unknown;
    std::optional<int> progress;                                  // 0-100
    std::optional<int64_t> created_at, completed_at, expires_at;  // unix seconds
    std::string model, size, prompt, remixed_from;
    std::optional<int> seconds;
    std::string result_url;  // where to fetch it, when the provider gives a direct link
    std::string poll_url;    // where to ask for it, when the provider names a place (202 answers)
    std::optional<double> cost_usd;  // what the provider says it billed (usage.cost)
    std::optional<ProviderError> error;
    nlohmann::json raw = nlohmann::json::object();  // unknown fields kept
};

struct VideoList {
    std::vector<Video> data;
    bool has_more = false;
    std::string last_id;
};

// An answer that could not be read: a message naming what arrived instead.
struct ParseError {
    std::string message;
};

// How the engine should react to a response or a transport failure.
enum class ErrorClass {
    ok,
    retryable,       // 408, 409, 429, 5xx, transport not_sent: back off and try again
    ambiguous,       // a create whose outcome is unknown: reconcile before any resend
    terminal,        // 400, 404, moderation: the job fails with the provider's words
    provider_fatal,  // 401, 403, insufficient_quota: pause the provider (or key)
};
struct Classified {
    ErrorClass cls = ErrorClass::ok;
    std::optional<Millis> retry_after;  // how long the provider asked us to wait
    std::optional<ProviderError> error;
    std::string code;  // a machine code for error files: provider code or "http_503", ...
};

class Protocol {
  public:
    virtual ~Protocol() = default;
    virtual std::string_view name() const = 0;

    // Intents into requests. `slot` is the key slot of the pool to authenticate with.
    // A create of a remix (job.remix_of set) included.
    virtual HttpRequest create(const ProviderSettings& p, const JobSpec& job, int slot) const = 0;
    virtual HttpRequest status(const ProviderSettings& p, const std::string& video_id,
                               int slot) const = 0;
    // Whether the provider has a list to look for a lost create in; without one an ambiguous
    // create cannot be reconciled.
    virtual bool lists(const ProviderSettings& p) const = 0;
    // The newest videos, from after `after` ("" = the start); used to find a lost create.
    virtual HttpRequest list(const ProviderSettings& p, const std::string& after,
                             int slot) const = 0;
    virtual HttpRequest content(const ProviderSettings& p, const std::string& video_id,
                                const std::string& variant, int slot) const = 0;
    // A cheap authenticated request that proves the credentials work.
    virtual HttpRequest credentials(const ProviderSettings& p, int slot) const = 0;

    // Answers into events. `is_create`: a create whose outcome is unknown is ambiguous, not
    // retryable. `now` resolves a wait given as a date.
    virtual Classified classify(const HttpResult& r, bool is_create, TimePoint now) const = 0;
    virtual tl::expected<Video, ParseError> video(const HttpResult& r, const Dialect& d) const = 0;
    virtual tl::expected<VideoList, ParseError> videos(const HttpResult& r,
                                                       const Dialect& d) const = 0;
    // The link a content endpoint answered with instead of the bytes, or "".
    virtual std::string content_link(const HttpResult& r, const Dialect& d) const = 0;
    // Whether a listed video is the one this job's create (sent at `sent_at`) made.
    virtual bool matches(const Video& v, const JobSpec& job, TimePoint sent_at,
                         Millis window) const = 0;
    // A wait the provider asked for in a successful answer (a poll-after hint), if any.
    virtual std::optional<Millis> poll_after(const HttpResult& r) const = 0;

    // Whether a video can be read again by its id. Without that the create's answer is the whole
    // job (a stream): a lost answer is a lost stream, and a link is fetched as it was given.
    virtual bool polls() const { return true; }
    // A piece of a streamed create answer, appended to what is `pending` from earlier pieces
    // (bounded by the protocol): the progress it reports (0-100), if any.
    virtual std::optional<int> stream_progress(std::string& pending, std::string_view piece) const {
        (void)pending;
        (void)piece;
        return std::nullopt;
    }
    // A request that shows a model can take a job now and spends nothing (for `check`), if the
    // protocol has one.
    virtual std::optional<HttpRequest> availability(const ProviderSettings& p,
                                                    const std::string& model, int slot) const {
        (void)p;
        (void)model;
        (void)slot;
        return std::nullopt;
    }
};

// The protocol of this name, or nullptr (the registry is pipeline/protocols.cpp).
const Protocol* find(std::string_view name);
// Every registered name, for the configuration's checks and messages.
std::vector<std::string_view> names();
// Whether the executable itself serves a provider of this protocol when it has no base_url
// (on loopback, with no secret to keep).
bool self_served(std::string_view name);

}  // namespace vd::protocol
