// The log: spdlog on stderr as [log] says, plain text or one JSON object a line. On a journal
// (systemd's JOURNAL_STREAM names our stderr) each line goes to journald natively, with its
// priority and what it is about as fields, so `journalctl -p warning` finds the warnings and
// `journalctl VIDEODROP_JOB=cat` one job's lines; where journald cannot be reached, the line goes
// to stderr starting with its sd-daemon(3) priority (<3> error, <4> warning, <6> info, <7>
// debug). The journal adds its own time, so the line leaves it out.
#include "daemon/logging.hpp"

#include <sys/stat.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <vector>

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "daemon/daemon.hpp"

namespace vd {

namespace {

// The fields of the line being logged (set by log_with_fields around the call; the logger is
// synchronous, so its sinks run on the same thread).
thread_local const LogFields* t_fields = nullptr;

std::string json_string(std::string_view text) {
    return nlohmann::json(std::string(text))
        .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// The fields in a fixed order with their journal names and JSON keys.
template <typename Visit>
void each_field(const LogFields& f, Visit&& visit) {
    visit("VIDEODROP_JOB=", "job", f.job);
    visit("VIDEODROP_PROVIDER=", "provider", f.provider);
    visit("VIDEODROP_VIDEO_ID=", "video_id", f.video_id);
    visit("VIDEODROP_REQUEST_ID=", "request_id", f.request_id);
}

// syslog(3) priority of a level: what journald filters on.
int priority_of(spdlog::level::level_enum level) {
    switch (level) {
        case spdlog::level::critical:
            return 2;
        case spdlog::level::err:
            return 3;
        case spdlog::level::warn:
            return 4;
        case spdlog::level::trace:
        case spdlog::level::debug:
            return 7;
        default:
            return 6;
    }
}

// %J: the fields as JSON keys, each with a leading comma ("" when the line has none).
class JsonFields : public spdlog::custom_flag_formatter {
  public:
    void format(const spdlog::details::log_msg&, const std::tm&,
                spdlog::memory_buf_t& dest) override {
        if (!t_fields) return;
        each_field(*t_fields, [&](const char*, const char* key, std::string_view value) {
            if (value.empty()) return;
            std::string text = ",\"" + std::string(key) + "\":" + json_string(value);
            dest.append(text.data(), text.data() + text.size());
        });
    }
    std::unique_ptr<custom_flag_formatter> clone() const override {
        return std::make_unique<JsonFields>();
    }
};

// %P: "<N>", the line's priority as sd-daemon(3) prefixes it for a journal stream; on the
// native way (JournalSink) PRIORITY says it and the flag writes nothing.
class JournalPriority : public spdlog::custom_flag_formatter {
  public:
    explicit JournalPriority(bool native = false) : native_(native) {}
    void format(const spdlog::details::log_msg& msg, const std::tm&,
                spdlog::memory_buf_t& dest) override {
        if (native_) return;
        std::string p = "<" + std::to_string(priority_of(msg.level)) + ">";
        dest.append(p.data(), p.data() + p.size());
    }
    std::unique_ptr<custom_flag_formatter> clone() const override {
        return std::make_unique<JournalPriority>(native_);
    }

  private:
    bool native_;
};

// Sends each line to journald with PRIORITY, SYSLOG_IDENTIFIER and the fields; a line journald
// does not take goes to stderr with its <N> prefix instead.
class JournalSink : public spdlog::sinks::base_sink<std::mutex> {
  public:
    // Whether journald's socket is there (sd_journal_sendv drops a line silently when not).
    static bool reachable() { return ::access("/run/systemd/journal/socket", W_OK) == 0; }

  protected:
    void sink_it_(const spdlog::details::log_msg& msg) override {
        spdlog::memory_buf_t line;
        formatter_->format(msg, line);
        std::string text(line.data(), line.size());
        while (!text.empty() && text.back() == '\n')
            text.pop_back();
        const int priority = priority_of(msg.level);
        std::vector<std::string> parts{"MESSAGE=" + text, "PRIORITY=" + std::to_string(priority),
                                       "SYSLOG_IDENTIFIER=videodrop"};
        if (t_fields)
            each_field(*t_fields, [&](const char* name, const char*, std::string_view value) {
                if (!value.empty()) parts.push_back(name + std::string(value));
            });
        std::vector<struct iovec> iov;
        for (auto& p : parts)
            iov.push_back({p.data(), p.size()});
        if (sd_journal_sendv(iov.data(), static_cast<int>(iov.size())) >= 0) return;
        std::string fallback = "<" + std::to_string(priority) + ">" + text + "\n";
        (void)!::write(STDERR_FILENO, fallback.data(), fallback.size());
    }
    void flush_() override {}
};

// %j: the message as a JSON string, so `format = "json"` gives one valid object a line.
class JsonMessage : public spdlog::custom_flag_formatter {
  public:
    void format(const spdlog::details::log_msg& msg, const std::tm&,
                spdlog::memory_buf_t& dest) override {
        std::string quoted = json_string({msg.payload.data(), msg.payload.size()});
        dest.append(quoted.data(), quoted.data() + quoted.size());
    }
    std::unique_ptr<custom_flag_formatter> clone() const override {
        return std::make_unique<JsonMessage>();
    }
};

// Whether stderr is a journald stream ($JOURNAL_STREAM names it).
bool stderr_is_journal() {
    const char* stream = std::getenv("JOURNAL_STREAM");
    if (!stream) return false;
    unsigned long long dev = 0, ino = 0;
    if (std::sscanf(stream, "%llu:%llu", &dev, &ino) != 2) return false;
    struct stat st {};
    if (::fstat(STDERR_FILENO, &st) != 0) return false;
    return static_cast<unsigned long long>(st.st_dev) == dev &&
           static_cast<unsigned long long>(st.st_ino) == ino;
}

}  // namespace

void setup_logging(const LogSettings& log, const std::string& level_override) {
    const bool journal = stderr_is_journal();
    const bool native = journal && JournalSink::reachable();
    std::shared_ptr<spdlog::sinks::sink> sink;
    if (native)
        sink = std::make_shared<JournalSink>();
    else
        sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    auto logger = std::make_shared<spdlog::logger>("videodrop", std::move(sink));
    const bool json = log.format == "json";  // JSON times are UTC, text times local
    auto f = std::make_unique<spdlog::pattern_formatter>(json ? spdlog::pattern_time_type::utc
                                                              : spdlog::pattern_time_type::local);
    f->add_flag<JsonMessage>('j');
    f->add_flag<JsonFields>('J');
    f->add_flag<JournalPriority>('P', native);
    if (json)
        f->set_pattern(journal ? R"(%P{"level":"%l"%J,"message":%j})"
                               : R"({"time":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l"%J,"message":%j})");
    else
        f->set_pattern(journal ? "%P%-5l %v" : "%Y-%m-%d %H:%M:%S.%e %-5l %v");
    logger->set_formatter(std::move(f));
    spdlog::set_default_logger(logger);
    std::string level = level_override.empty() ? log.level : level_override;
    spdlog::set_level(spdlog::level::from_str(level));
}

void log_with_fields(spdlog::level::level_enum level, const LogFields& fields,
                     std::string_view text) {
    t_fields = &fields;
    spdlog::log(level, "{}", text);
    t_fields = nullptr;
}

}  // namespace vd
