// `videodrop mock-server`: the fake provider of the README on its own, in the foreground.
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "app/app.hpp"
#include "daemon/cli.hpp"
#include "mock/dialect.hpp"
#include "mock/duration.hpp"
#include "mock/mock.hpp"

namespace vd::cli {
namespace {

struct MockFlags {
    mock::Options options;
    std::string listen = "127.0.0.1:8089";
    std::string queue_time = "300ms", gen_time = "2s", slow = "0", expire_after = "1h";
    std::vector<std::string> models;
};

// "tiny:1,2:160x90,90x160:0.05" -> a model table entry.
std::optional<ModelSpec> model_of(const std::string& text) {
    std::vector<std::string> parts;
    std::stringstream in(text);
    for (std::string part; std::getline(in, part, ':');)
        parts.push_back(part);
    if (parts.size() != 4 || parts[0].empty()) return std::nullopt;
    ModelSpec m;
    m.name = parts[0];
    try {
        std::stringstream secs(parts[1]);
        for (std::string v; std::getline(secs, v, ',');)
            m.seconds.push_back(std::stoi(v));
        std::stringstream sizes(parts[2]);
        for (std::string v; std::getline(sizes, v, ',');) {
            if (!parse_size(v)) return std::nullopt;
            m.sizes.push_back(v);
        }
        m.usd_per_second = std::stod(parts[3]);
    } catch (const std::exception&) {
        return std::nullopt;
    }
    if (m.seconds.empty() || m.sizes.empty()) return std::nullopt;
    return m;
}

// HOST:PORT, [V6]:PORT; false when it is neither.
bool split_listen(const std::string& text, std::string& host, int& port) {
    auto colon = text.rfind(':');
    if (colon == std::string::npos || colon == 0) return false;
    host = text.substr(0, colon);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']')
        host = host.substr(1, host.size() - 2);
    try {
        size_t used = 0;
        port = std::stoi(text.substr(colon + 1), &used);
        return used == text.size() - colon - 1 && port >= 0 && port <= 65535;
    } catch (const std::exception&) {
        return false;
    }
}

Millis duration(const std::string& text) {
    return mock::parse_duration(text).value_or(Millis{0});
}

}  // namespace

void add_mock_server(CLI::App& app, Globals&, int& rc) {
    auto f = std::make_shared<MockFlags>();
    mock::Options& o = f->options;
    auto* cmd = app.add_subcommand("mock-server",
                                   "serve the fake video provider (OpenAI Videos protocol) with "
                                   "faults on request, until SIGINT or SIGTERM");
    const CLI::Validator is_duration(
        [](std::string& s) {
            return mock::parse_duration(s)
                       ? std::string()
                       : "'" + s + "' is not a duration: use e.g. 300ms, 2s, 1m";
        },
        "DURATION");
    const CLI::Validator is_listen(
        [](std::string& s) {
            std::string host;
            int port = 0;
            return split_listen(s, host, port)
                       ? std::string()
                       : "'" + s + "' is not HOST:PORT (e.g. 127.0.0.1:8089)";
        },
        "HOST:PORT");
    auto rate = CLI::Range(0.0, 1.0);

    cmd->add_option("--listen", f->listen, "address to serve on; port 0 picks a free one")
        ->check(is_listen)
        ->capture_default_str();
    cmd->add_option("--keys", o.keys, "accepted API keys, comma-separated (default: any key)")
        ->delimiter(',');
    cmd->add_option("--queue-time", f->queue_time, "how long a video stays queued")
        ->check(is_duration)
        ->capture_default_str();
    cmd->add_option("--gen-time", f->gen_time, "how long a video is in progress")
        ->check(is_duration)
        ->capture_default_str();
    cmd->add_option("--expire-after", f->expire_after, "content lifetime after completion")
        ->check(is_duration)
        ->capture_default_str();
    cmd->add_option("--rpm", o.rpm, "creates per minute per key before 429 (0: no limit)")
        ->check(CLI::NonNegativeNumber);
    cmd->add_option("--fail-rate", o.fail_rate, "share of requests answered 500, 502 or 503")
        ->check(rate);
    cmd->add_option("--reset-rate", o.reset_rate, "share of requests reset without an answer")
        ->check(rate);
    cmd->add_option("--lost-rate", o.lost_rate,
                    "share of creates that make the video but lose the answer")
        ->check(rate);
    cmd->add_option("--lost-on-reuse-rate", o.lost_on_reuse_rate,
                    "share of creates on a reused connection that make the video, then close")
        ->check(rate);
    cmd->add_option("--truncate-rate", o.truncate_rate, "share of downloads cut at half")
        ->check(rate);
    cmd->add_option("--corrupt-rate", o.corrupt_rate,
                    "share of downloads with bytes wrecked inside mdat")
        ->check(rate);
    cmd->add_option("--slow", f->slow, "delay before every answer")->check(is_duration);
    cmd->add_option("--moderation-word", o.moderation_word,
                    "prompts containing it (any case) fail with moderation_blocked");
    cmd->add_option("--dialect", o.dialect,
                    "as a shipped profile's servers: openai; new-api (status `processing`, a "
                    "`url`; also called processing-url); generations-jobs (POST "
                    "/v1/videos/generations, then /v1/jobs/{id}); json-content (integer "
                    "`duration`, content answers JSON with a signed link); openrouter (202 + "
                    "polling_url, aspect_ratio + resolution, urls[], usage.cost, no list); "
                    "litellm (base64 ids); chat-sse (/v1/models lists the chat model names; "
                    "POST /v1/chat/completions streams a job in every dialect)")
        ->check(CLI::IsMember(mock::dialect_names()))
        ->capture_default_str();
    cmd->add_option("--model", f->models,
                    "serve this model instead of sora-2 and sora-2-pro (repeatable): "
                    "NAME:SECONDS:SIZES:USD_PER_SECOND, e.g. tiny:1,2:160x90,90x160:0.05")
        ->check(CLI::Validator(
            [](std::string& s) { return model_of(s) ? std::string() : "not NAME:4,8:WxH,...:0.1"; },
            "MODEL"));
    cmd->add_option("--log", o.log_file, "append every request to FILE as JSON lines");
    cmd->add_option("--video-file", o.video_file,
                    "serve this MP4 as every video's content instead of rendering one")
        ->check(CLI::ExistingFile);
    cmd->add_option("--threads", o.threads,
                    "worker threads; each open keep-alive connection holds one")
        ->check(CLI::Range(2, 4096))
        ->capture_default_str();
    cmd->add_option("--seed", o.seed, "seed of the fault dice (same seed, same faults)")
        ->capture_default_str();

    cmd->callback([f, &rc] {
        mock::Options& opt = f->options;
        split_listen(f->listen, opt.host, opt.port);
        opt.queue_time = duration(f->queue_time);
        opt.gen_time = duration(f->gen_time);
        opt.expire_after = duration(f->expire_after);
        opt.slow = duration(f->slow);
        for (const auto& m : f->models)
            if (auto spec = model_of(m)) opt.models[spec->name] = *spec;
        rc = mock::run_foreground(opt) == 0 ? kOk : kFatal;
    });
}

}  // namespace vd::cli
