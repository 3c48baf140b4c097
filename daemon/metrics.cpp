#include "daemon/metrics.hpp"

#include <cstdio>

namespace vd {

namespace {

std::string number(double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.6g", v);
    return buf;
}

void header(std::string& out, const char* name, const char* type, const char* help) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}

// Label values here are state and provider names ([A-Za-z0-9_-]), but escape as the format says.
std::string label(const std::string& v) {
    std::string out;
    for (char c : v) {
        if (c == '\\' || c == '"') out += '\\';
        if (c == '\n') {
            out += "\\n";
            continue;
        }
        out += c;
    }
    return out;
}

}  // namespace

std::string format_metrics(const MetricsSnapshot& m) {
    std::string out;
    header(out, "videodrop_jobs", "gauge", "Jobs the daemon knows of, by state.");
    for (const auto& [state, n] : m.jobs_by_state)
        out += "videodrop_jobs{state=\"" + label(state) + "\"} " + std::to_string(n) + "\n";
    header(out, "videodrop_delivered_total", "counter", "Jobs delivered since the daemon started.");
    out += "videodrop_delivered_total " + std::to_string(m.delivered) + "\n";
    header(out, "videodrop_failed_total", "counter",
           "Jobs moved to failed/ since the daemon started.");
    out += "videodrop_failed_total " + std::to_string(m.failed) + "\n";
    header(out, "videodrop_spend_usd", "gauge", "Estimated spend in the ledger, in US dollars.");
    out += "videodrop_spend_usd{period=\"today\"} " + number(m.spend_today_usd) + "\n";
    out += "videodrop_spend_usd{period=\"total\"} " + number(m.spend_total_usd) + "\n";
    header(out, "videodrop_provider_paused", "gauge",
           "1 when every key of the provider was rejected and submits are paused.");
    for (const auto& [name, paused] : m.provider_paused)
        out += "videodrop_provider_paused{provider=\"" + label(name) + "\"} " +
               (paused ? "1" : "0") + "\n";
    header(out, "videodrop_creates_total", "counter",
           "Create requests sent to the provider since the daemon started.");
    for (const auto& [name, n] : m.creates_sent)
        out +=
            "videodrop_creates_total{provider=\"" + label(name) + "\"} " + std::to_string(n) + "\n";
    header(out, "videodrop_metrics_updated_seconds", "gauge",
           "Unix time at which this file was written.");
    char stamp[32];
    std::snprintf(stamp, sizeof stamp, "%.3f", m.updated_unix_seconds);
    out += std::string("videodrop_metrics_updated_seconds ") + stamp + "\n";
    return out;
}

}  // namespace vd
