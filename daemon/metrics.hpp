// The Prometheus textfile ([metrics] textfile): what the daemon is doing, for node_exporter's
// textfile collector. Written atomically every few seconds and when the daemon stops.
#pragma once

#include <map>
#include <string>

namespace vd {

struct MetricsSnapshot {
    std::map<std::string, int> jobs_by_state;  // every state, zeros included
    int delivered = 0;                         // since the daemon started
    int failed = 0;
    double spend_today_usd = 0;
    double spend_total_usd = 0;
    std::map<std::string, bool> provider_paused;  // provider -> every key rejected
    std::map<std::string, int64_t> creates_sent;  // provider -> creates since start
    double updated_unix_seconds = 0;
};

// The exposition-format text of a snapshot.
std::string format_metrics(const MetricsSnapshot& m);

}  // namespace vd
