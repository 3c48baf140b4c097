// Reading an answer stream: lines of server-sent events, the chunks in their `data:` lines, the
// progress in their free text and the URL in the final content.
#include <cctype>

#include "pipeline/chat_sse/chat_sse.hpp"

namespace vd::chat_sse {

namespace {

using nlohmann::json;

constexpr size_t kMaxLine = 1 << 20;  // one event's data; a final content is a few hundred bytes
// The first byte of `pending` while the rest of an overlong line is being skipped.
constexpr char kDropping = '\0';

std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front())))
        s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())))
        s.remove_suffix(1);
    return s;
}

std::string text_of(const json& j, const char* key) {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

protocol::ProviderError error_of(const json& e) {
    protocol::ProviderError out;
    if (e.is_string()) {
        out.message = e.get<std::string>();
    } else if (e.is_object()) {
        out.message = text_of(e, "message");
        out.type = text_of(e, "type");
        out.code = text_of(e, "code");
        if (out.code.empty() && e.contains("code") && e["code"].is_number_integer())
            out.code = "error_" + std::to_string(e["code"].get<int64_t>());
        out.raw = e;
    }
    if (out.code.empty()) out.code = "stream_error";
    if (out.message.empty()) out.message = "the server reported an error in the stream";
    return out;
}

// One chat.completion(.chunk) object into the answer.
void take(const json& j, Answer& a) {
    if (!j.is_object()) return;
    if (j.contains("error") && !j["error"].is_null()) {
        a.error = error_of(j["error"]);
        return;
    }
    if (a.id.empty()) a.id = text_of(j, "id");
    if (a.model.empty()) a.model = text_of(j, "model");
    auto choices = j.find("choices");
    if (choices == j.end() || !choices->is_array()) return;
    for (const auto& c : *choices) {
        if (!c.is_object()) continue;
        // A streamed chunk has `delta`; a whole answer has `message`.
        const json* part = c.contains("delta")     ? &c["delta"]
                           : c.contains("message") ? &c["message"]
                                                   : nullptr;
        if (part && part->is_object()) {
            std::string reasoning = text_of(*part, "reasoning_content");
            if (auto p = percent_in(reasoning)) a.progress = p;
            a.content += text_of(*part, "content");
        }
        if (c.contains("finish_reason") && c["finish_reason"].is_string()) a.done = true;
    }
}

bool url_char(char c) {
    return !std::isspace(static_cast<unsigned char>(c)) && c != '"' && c != '\'' && c != '<' &&
           c != '>' && c != ')' && c != '`';
}

std::string url_at(std::string_view s, size_t from) {
    size_t end = from;
    while (end < s.size() && url_char(s[end]))
        ++end;
    std::string_view url = s.substr(from, end - from);
    while (!url.empty() && (url.back() == '.' || url.back() == ',' || url.back() == ';'))
        url.remove_suffix(1);
    if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0) return {};
    return std::string(url);
}

}  // namespace

bool read_lines(std::string& pending, std::string_view piece, size_t max_line,
                const std::function<void(std::string_view)>& on_line) {
    // "\r\n" ends a line and starts an empty one; empty lines carry nothing here (events are
    // read one data line at a time), so each of '\r' and '\n' simply ends a line.
    bool kept_all = true;
    size_t start = 0;
    for (size_t i = 0; i <= piece.size(); ++i) {
        const bool end_of_piece = i == piece.size();
        if (!end_of_piece && piece[i] != '\n' && piece[i] != '\r') continue;
        std::string_view part = piece.substr(start, i - start);
        bool dropping = !pending.empty() && pending.front() == kDropping;
        if (!dropping && pending.size() + part.size() > max_line) {
            pending.assign(1, kDropping);
            dropping = true;
            kept_all = false;
        }
        if (end_of_piece) {
            if (!dropping) pending.append(part);
            break;
        }
        if (!dropping && pending.empty() && !part.empty()) {
            on_line(part);
        } else if (!dropping && !pending.empty()) {
            pending.append(part);
            on_line(pending);
        }
        pending.clear();
        start = i + 1;
    }
    return kept_all;
}

Answer read_answer(std::string_view body) {
    Answer a;
    std::string_view t = trim(body);
    if (!t.empty() && t.front() == '{') {
        // Not streamed: one chat.completion object.
        json j = json::parse(t, nullptr, false);
        if (!j.is_discarded()) {
            take(j, a);
            a.done = a.done || !a.content.empty() || a.error.has_value();
            return a;
        }
    }
    std::string pending;
    auto on_line = [&](std::string_view line) {
        // Comments (": keep-alive"), event names, ids and blank lines carry nothing here.
        if (line.substr(0, 5) != "data:") return;
        std::string_view data = trim(line.substr(5));
        if (data == "[DONE]") {
            a.done = true;
            return;
        }
        json j = json::parse(data, nullptr, false);
        if (!j.is_discarded()) take(j, a);
    };
    if (!read_lines(pending, body, kMaxLine, on_line)) a.overlong = true;
    if (!pending.empty() && pending.front() != kDropping) on_line(pending);
    return a;
}

std::optional<int> percent_in(std::string_view text) {
    std::optional<int> found;
    for (size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '%') continue;
        size_t end = i;
        while (end > 0 && text[end - 1] == ' ')
            --end;
        size_t begin = end;
        while (begin > 0 && (std::isdigit(static_cast<unsigned char>(text[begin - 1])) ||
                             text[begin - 1] == '.'))
            --begin;
        std::string_view number = text.substr(begin, end - begin);
        if (number.empty() || !std::isdigit(static_cast<unsigned char>(number.front()))) continue;
        int whole = 0;
        for (char c : number) {
            if (c == '.') break;
            whole = whole * 10 + (c - '0');
            if (whole > 100) break;
        }
        if (whole <= 100) found = whole;
    }
    return found;
}

std::string video_url_in(std::string_view content) {
    // <video src='URL'>, <source src="URL">
    for (size_t at = content.find("src="); at != std::string_view::npos;
         at = content.find("src=", at + 4)) {
        size_t from = at + 4;
        if (from < content.size() && (content[from] == '"' || content[from] == '\'')) ++from;
        if (std::string url = url_at(content, from); !url.empty()) return url;
    }
    // [text](URL), ![alt](URL)
    for (size_t at = content.find("]("); at != std::string_view::npos;
         at = content.find("](", at + 2))
        if (std::string url = url_at(content, at + 2); !url.empty()) return url;
    for (std::string_view scheme : {"https://", "http://"}) {
        size_t at = content.find(scheme);
        if (at != std::string_view::npos) return url_at(content, at);
    }
    return {};
}

}  // namespace vd::chat_sse
