// The log: spdlog on stderr as [log] says, plain text or one JSON object a line. On a journal
// (systemd's JOURNAL_STREAM names our stderr) each line starts with its sd-daemon(3) priority
// (<3> error, <4> warning, <6> info, <7> debug), so `journalctl -p warning` finds the warnings;
// the journal adds its own time, so the line leaves it out.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "daemon/daemon.hpp"

namespace vd {

namespace {

// %j: the message as a JSON string, so `format = "json"` gives one valid object a line.
class JsonMessage : public spdlog::custom_flag_formatter {
  public:
    void format(const spdlog::details::log_msg& msg, const std::tm&,
                spdlog::memory_buf_t& dest) override {
        std::string text(msg.payload.data(), msg.payload.size());
        std::string quoted =
            nlohmann::json(text).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        dest.append(quoted.data(), quoted.data() + quoted.size());
    }
    std::unique_ptr<custom_flag_formatter> clone() const override {
        return std::make_unique<JsonMessage>();
    }
};

// %P: the line's priority for journald, "<4>" and the like.
class JournalPriority : public spdlog::custom_flag_formatter {
  public:
    void format(const spdlog::details::log_msg& msg, const std::tm&,
                spdlog::memory_buf_t& dest) override {
        const char* p = "<6>";
        switch (msg.level) {
            case spdlog::level::critical:
                p = "<2>";
                break;
            case spdlog::level::err:
                p = "<3>";
                break;
            case spdlog::level::warn:
                p = "<4>";
                break;
            case spdlog::level::trace:
            case spdlog::level::debug:
                p = "<7>";
                break;
            default:
                break;
        }
        dest.append(p, p + 3);
    }
    std::unique_ptr<custom_flag_formatter> clone() const override {
        return std::make_unique<JournalPriority>();
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
    auto logger = spdlog::stderr_logger_mt("videodrop");
    const bool journal = stderr_is_journal();
    const bool json = log.format == "json";  // JSON times are UTC, text times local
    auto f = std::make_unique<spdlog::pattern_formatter>(json ? spdlog::pattern_time_type::utc
                                                              : spdlog::pattern_time_type::local);
    f->add_flag<JsonMessage>('j');
    f->add_flag<JournalPriority>('P');
    if (json)
        f->set_pattern(journal ? R"(%P{"level":"%l","message":%j})"
                               : R"({"time":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l","message":%j})");
    else
        f->set_pattern(journal ? "%P%-5l %v" : "%Y-%m-%d %H:%M:%S.%e %-5l %v");
    logger->set_formatter(std::move(f));
    spdlog::set_default_logger(logger);
    std::string level = level_override.empty() ? log.level : level_override;
    spdlog::set_level(spdlog::level::from_str(level));
}

}  // namespace vd
