// How the mock speaks: one shape per --dialect, each the way a family of gateways does it, so
// that every shipped provider profile (config/providers/NAME.toml) is tested against its own.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mock/api_error.hpp"
#include "mock/body.hpp"

namespace vd::mock {

struct Dialect {
    // generations-jobs: create at /v1/videos/generations, the rest under /v1/jobs; the
    // reference paths answer 404.
    bool jobs_paths = false;
    // new-api: `processing` while rendering, and a finished video's `url` to its content.
    bool processing_url = false;
    // json-content: `duration` an integer (in and out), the image as an `image_url` data: URL,
    // and the content endpoint answers JSON {"url": a signed link} instead of the bytes.
    bool json_content = false;
    // openrouter: JSON creates with `duration`, `aspect_ratio` + `resolution` and
    // `frame_images`; 202 with `polling_url`; `pending`; `urls[]` signed links and `usage.cost`
    // when done; failures as an `error` string; no list and no remix.
    bool openrouter = false;
    // litellm: ids are base64 (with '+', '/' and '='); a path with the id not percent-encoded
    // finds nothing.
    bool base64_ids = false;
    // chat-sse: /v1/models lists the chat model names (sora-video-landscape-4s, ...) made of
    // the models' lengths and orientations. POST /v1/chat/completions answers in every dialect.
    bool chat_models = false;
};

// The names --dialect takes ("openai" and "processing-url" included).
const std::vector<std::string>& dialect_names();
Dialect dialect_of(std::string_view name);

// A create's body in the dialect's fields, rewritten into the reference's (`seconds` as a
// string, `size`, `input_reference` as a file), or the error the dialect's servers give for a
// field they do not take.
std::optional<ApiError> to_reference(const Dialect& d, Body& body);

}  // namespace vd::mock
