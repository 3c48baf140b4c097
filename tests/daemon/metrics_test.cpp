#include "daemon/metrics.hpp"

#include <catch2/catch.hpp>

TEST_CASE("metrics are Prometheus text with help, type and labelled samples", "[metrics]") {
    vd::MetricsSnapshot m;
    m.jobs_by_state = {{"queued", 2}, {"delivered", 5}};
    m.delivered = 5;
    m.failed = 1;
    m.spend_today_usd = 1.2;
    m.spend_total_usd = 3.5;
    m.provider_paused = {{"openai", true}, {"mock", false}};
    m.creates_sent = {{"openai", 7}};
    m.updated_unix_seconds = 1795341600.5;
    std::string text = vd::format_metrics(m);
    CHECK_THAT(text, Catch::Contains("# TYPE videodrop_jobs gauge\n"));
    CHECK_THAT(text, Catch::Contains("videodrop_jobs{state=\"queued\"} 2\n"));
    CHECK_THAT(text, Catch::Contains("videodrop_jobs{state=\"delivered\"} 5\n"));
    CHECK_THAT(text, Catch::Contains("# TYPE videodrop_delivered_total counter\n"
                                     "videodrop_delivered_total 5\n"));
    CHECK_THAT(text, Catch::Contains("videodrop_failed_total 1\n"));
    CHECK_THAT(text, Catch::Contains("videodrop_spend_usd{period=\"today\"} 1.2\n"));
    CHECK_THAT(text, Catch::Contains("videodrop_spend_usd{period=\"total\"} 3.5\n"));
    CHECK_THAT(text, Catch::Contains("videodrop_provider_paused{provider=\"openai\"} 1\n"));
    CHECK_THAT(text, Catch::Contains("videodrop_provider_paused{provider=\"mock\"} 0\n"));
    CHECK_THAT(text, Catch::Contains("videodrop_creates_total{provider=\"openai\"} 7\n"));
    CHECK_THAT(text, Catch::Contains("videodrop_metrics_updated_seconds 1795341600.500\n"));
    // Every line is a comment or `name{labels} value`: no blank lines, ends with a newline.
    CHECK(text.back() == '\n');
    CHECK(text.find("\n\n") == std::string::npos);
}
