// The registry of protocols: one line each. A provider's `protocol` names one of these.
#include <array>

#include "pipeline/chat_sse/chat_sse.hpp"
#include "pipeline/openai_videos/openai_videos.hpp"
#include "pipeline/protocol.hpp"

namespace vd::protocol {

namespace {
struct Entry {
    std::string_view name;
    const Protocol& (*get)();
    bool self_served;
};
constexpr std::array kProtocols{
    Entry{"openai-videos", &openai_videos::protocol, false},
    Entry{"chat-sse", &chat_sse::protocol, false},
    // The built-in fake provider (`videodrop demo`, tests) speaks the reference protocol; the
    // executable serves it on loopback when the provider has no base_url.
    Entry{"mock", &openai_videos::protocol, true},
};
}  // namespace

const Protocol* find(std::string_view name) {
    for (const auto& e : kProtocols)
        if (e.name == name) return &e.get();
    return nullptr;
}

bool self_served(std::string_view name) {
    for (const auto& e : kProtocols)
        if (e.name == name) return e.self_served;
    return false;
}

std::vector<std::string_view> names() {
    std::vector<std::string_view> out;
    for (const auto& e : kProtocols)
        out.push_back(e.name);
    return out;
}

std::string_view to_string(VideoStatus s) {
    switch (s) {
        case VideoStatus::queued:
            return "queued";
        case VideoStatus::in_progress:
            return "in_progress";
        case VideoStatus::completed:
            return "completed";
        case VideoStatus::failed:
            return "failed";
        case VideoStatus::cancelled:
            return "cancelled";
        case VideoStatus::unknown:
            break;
    }
    return "unknown";
}

}  // namespace vd::protocol
