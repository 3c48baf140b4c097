// The chat-completions streaming protocol, `protocol = "chat-sse"` (shared/spec/providers.md
// section 3: sora2api, its ports and flow2api-style servers). A job is one
// POST {base_url}/chat/completions with "stream": true; the answer is server-sent events whose
// chunks carry progress as free text and, at the end, the video's URL inside an HTML or Markdown
// fragment. There is no id to poll and no list: the stream is the job.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "pipeline/protocol.hpp"

namespace vd::chat_sse {

// The protocol as the engine sees it (registered in pipeline/protocols.cpp).
const protocol::Protocol& protocol();

// The model name sent on the wire for this job: the model's chat_model template (or
// "sora-video-{orientation}-{seconds}s") with {orientation} and {seconds} filled in.
std::string wire_model(const ModelSpec& model, const JobSpec& job);
// Whether a chat_model template names only the placeholders it may (the config's check); the
// error names the first unknown one.
std::optional<std::string> template_error(std::string_view tmpl);

// The lines of an event stream as they arrive: `piece` appended to `pending` (the unfinished
// last line of earlier pieces), and each complete line handed to `on_line` without its line
// ending ("\n", "\r\n" or "\r"). A line longer than `max_line` is dropped whole, and reported.
// Returns false when a line was dropped.
bool read_lines(std::string& pending, std::string_view piece, size_t max_line,
                const std::function<void(std::string_view)>& on_line);

// What a whole answer stream said.
struct Answer {
    std::string id;       // the completion's id ("chatcmpl-..."), when it gave one
    std::string model;    // as the server named it
    std::string content;  // every delta.content, joined
    std::optional<int> progress;
    std::optional<protocol::ProviderError> error;  // an `error` object in the stream
    bool done = false;                             // [DONE] or a finish_reason arrived
    bool overlong = false;                         // a line over the bound was dropped
};
// Reads an event stream; a plain chat.completion JSON body (a server that did not stream) is
// read too.
Answer read_answer(std::string_view body);

// The last percentage in a progress text ("Generating... 42%", "progress: 42.5 %"), 0 to 100.
std::optional<int> percent_in(std::string_view text);
// The video URL in a final content: a src attribute of a <video> or <source> tag, a Markdown
// link or image target, or else the first bare http(s) URL; "" when there is none.
std::string video_url_in(std::string_view content);

}  // namespace vd::chat_sse
