// `videodrop check`: asks each provider, with each key of its pool, for its models and for one
// video of the list (a chat-sse provider: whether its first model can take a job, not streamed).
// Neither request costs anything; no create is ever sent.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>

#include <uv.h>

#include "daemon/cli.hpp"
#include "daemon/http_client.hpp"
#include "daemon/manage.hpp"
#include "daemon/manage_util.hpp"
#include "daemon/redact.hpp"
#include "pipeline/chat_sse/chat_sse.hpp"
#include "pipeline/protocol.hpp"

namespace vd::manage {
namespace {

using nlohmann::json;

struct Probe {
    std::string provider;
    int slot = 0;
    bool models = false;  // GET /models, else second_probe()
    HttpResult result;
};

// The names a chat-sse provider is asked for: each model's wire name for each of its lengths
// and orientations.
std::vector<std::string> wire_models(const ProviderSettings& p) {
    std::vector<std::string> out;
    for (const auto& [name, m] : p.models)
        for (int seconds : m.seconds)
            for (const auto& size : m.sizes) {
                JobSpec job;
                job.seconds = seconds;
                job.size = parse_size(size).value_or(Size{});
                std::string wire = chat_sse::wire_model(m, job);
                if (std::find(out.begin(), out.end(), wire) == out.end()) out.push_back(wire);
            }
    return out;
}

// After the model list: one video of the list, or a chat-sse server's availability answer for
// the first model; nothing when the provider has neither.
std::optional<HttpRequest> second_probe(const ProviderSettings& p, int slot) {
    const protocol::Protocol& proto = *protocol::find(p.protocol);
    if (proto.lists(p)) return proto.list(p, "", slot);
    auto wire = wire_models(p);
    if (wire.empty()) return std::nullopt;
    return proto.availability(p, wire.front(), slot);
}

std::string second_probe_name(const ProviderSettings& p) {
    if (protocol::find(p.protocol)->lists(p)) return "GET " + p.dialect.paths.list;
    return "POST /chat/completions (availability of " + wire_models(p).front() + ")";
}

struct Target {
    const ProviderConfig* config;
    std::vector<std::string> keys;
};

std::string key_source(const ProviderConfig& p, size_t count) {
    if (!p.api_key_env.empty()) return "key from environment variable " + p.api_key_env;
    if (!p.api_key_file.empty()) return "key from api_key_file " + p.api_key_file;
    if (!p.keys_file.empty())
        return std::to_string(count) + (count == 1 ? " key" : " keys") + " from keys_file " +
               p.keys_file;
    if (!p.api_key_credential.empty())
        return std::to_string(count) + (count == 1 ? " key" : " keys") +
               " from the systemd credential " + p.api_key_credential;
    if (protocol::self_served(p.core.protocol)) return "no key needed (a mock provider)";
    return std::string("key from environment variable ") + kDefaultKeyEnv + " (the default)";
}

// Provider words may quote what was sent; a key must not reach the terminal even then.
std::string scrub(std::string text, const std::vector<std::string>& keys) {
    return one_line(redact(std::move(text), keys), 200);
}

bool ok_status(const HttpResult& r) {
    return r.transport == TransportError::none && r.status >= 200 && r.status < 300;
}

// A web page where the API should answer JSON: what a wrong base_url (a site, a dashboard, a
// path without /v1) gets, often with status 200.
bool html_page(const HttpResult& r) {
    auto type = r.header("content-type");
    if (type && type->find("text/html") != std::string::npos) return true;
    auto start = r.body.find_first_not_of(" \t\r\n");
    return start != std::string::npos && r.body.compare(start, 1, "<") == 0;
}

const char* const kHtmlHint =
    " answered a web page (HTML), not the API's JSON: base_url is probably wrong (it is the "
    "API's address, usually ending in /v1, not the provider's website)";

std::string failure(const HttpResult& r, const std::vector<std::string>& keys,
                    const protocol::Protocol& proto) {
    if (r.transport != TransportError::none)
        return scrub("no answer: " + r.transport_message, keys) +
               " (check base_url, the network and proxy)";
    std::string out = "HTTP " + std::to_string(r.status);
    auto now = std::chrono::time_point_cast<Millis>(std::chrono::system_clock::now());
    if (auto e = proto.classify(r, false, now).error) {
        if (!e->code.empty()) out += " " + e->code;
        if (!e->message.empty()) out += ": " + e->message;
    } else if (!r.body.empty()) {
        out += ": " + r.body.substr(0, 200);
    }
    out = scrub(out, keys);
    if (r.status == 401 || r.status == 403) out += " (the key is rejected: replace it)";
    return out;
}

// The ids of a model list ({"data":[{"id":...}]}), or nullopt when the answer is not one.
std::optional<std::vector<std::string>> model_ids(const HttpResult& r) {
    auto j = json::parse(r.body, nullptr, false);
    if (!j.is_object() || !j.contains("data") || !j["data"].is_array()) return std::nullopt;
    std::vector<std::string> ids;
    for (const auto& m : j["data"])
        if (m.is_object() && m.contains("id") && m["id"].is_string())
            ids.push_back(m["id"].get<std::string>());
    return ids;
}

std::string list_names(const std::vector<std::string>& ids, const std::vector<std::string>& keys) {
    std::string out;
    for (size_t i = 0; i < ids.size() && i < 12; ++i)
        out += (i ? ", " : "") + ids[i];
    if (ids.size() > 12) out += ", ...";
    return scrub(out, keys);
}

// Runs every probe to its end, then closes the loop's handles.
void run_probes(const std::vector<Target>& targets, std::vector<Probe>& probes) {
    std::map<std::string, ProviderEndpoint> endpoints;
    for (const auto& t : targets) {
        const auto& p = *t.config;
        endpoints[p.core.name] = {p.core.base_url, p.core.dialect.auth, t.keys, p.proxy};
    }
    uv_loop_t loop;
    uv_loop_init(&loop);
    HttpClientOptions options;
    options.api_timeout = Millis{30000};
    auto http = std::make_unique<HttpClient>(&loop, std::move(endpoints), options);
    size_t pending = probes.size();
    for (auto& pr : probes) {
        const auto& p = std::find_if(targets.begin(), targets.end(), [&](const Target& t) {
                            return t.config->core.name == pr.provider;
                        })->config->core;
        const protocol::Protocol& proto = *protocol::find(p.protocol);
        auto req = pr.models ? proto.credentials(p, pr.slot) : *second_probe(p, pr.slot);
        pr.result.transport = TransportError::not_sent;  // until an answer replaces it
        pr.result.transport_message = "the request did not finish";
        http->send(req, [&pr, &pending](HttpResult r) {
            pr.result = std::move(r);
            --pending;
        });
    }
    while (pending > 0 && uv_run(&loop, UV_RUN_ONCE) != 0) {
    }
    http->shutdown();
    http.reset();
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
}

}  // namespace

int check(const Config& cfg, const std::string& provider, const EnvLookup& env) {
    if (!provider.empty() && !cfg.providers.count(provider)) {
        std::string known;
        for (const auto& [name, p] : cfg.providers)
            known += (known.empty() ? "" : ", ") + name;
        std::fprintf(stderr, "videodrop: no provider \"%s\" in %s (configured: %s)\n",
                     one_line(provider, 60).c_str(), cfg.source.c_str(), known.c_str());
        return cli::kUsage;
    }
    int rc = cli::kOk;
    std::vector<Target> targets;
    for (const auto& [name, p] : cfg.providers) {
        if (!provider.empty() && name != provider) continue;
        if (p.core.base_url.empty()) {
            std::printf("%s: served by videodrop itself (no base_url): nothing to check\n",
                        name.c_str());
            continue;
        }
        auto keys = load_keys(p, env);
        if (!keys) {
            std::printf("%s\n", keys.error().c_str());
            rc = cli::kFatal;
            continue;
        }
        targets.push_back({&p, std::move(*keys)});
    }

    std::vector<Probe> probes;
    for (const auto& t : targets)
        for (int slot = 0; slot < static_cast<int>(t.keys.size()); ++slot)
            for (bool models : {true, false})
                if (models || second_probe(t.config->core, slot))
                    probes.push_back({t.config->core.name, slot, models, {}});
    run_probes(targets, probes);

    for (const auto& t : targets) {
        const auto& p = *t.config;
        std::printf("%s: %s (%s%s)\n", p.core.name.c_str(), p.core.base_url.c_str(),
                    key_source(p, t.keys.size()).c_str(),
                    p.profile.empty() ? "" : ("; profile " + p.profile).c_str());
        const protocol::Protocol& proto = *protocol::find(p.core.protocol);
        if (!proto.polls())
            std::printf(
                "  note: %s streams each job's answer: a stream that breaks fails the job as "
                "stream_lost, never sent again unless on_lost_stream = \"resubmit\"\n",
                p.core.protocol.c_str());
        else if (!proto.lists(p.core))
            std::printf(
                "  note: no list of videos (dialect.paths.list = \"\"): a create whose "
                "answer is lost fails as ambiguous_create, never sent again\n");
        std::optional<std::vector<std::string>> offered;
        for (int slot = 0; slot < static_cast<int>(t.keys.size()); ++slot) {
            const Probe *models = nullptr, *list = nullptr;
            for (const auto& pr : probes)
                if (pr.provider == p.core.name && pr.slot == slot)
                    (pr.models ? models : list) = &pr;
            std::vector<std::string> problems;
            std::string offers;
            if (ok_status(models->result) && html_page(models->result)) {
                problems.push_back(std::string("GET /models") + kHtmlHint);
            } else if (ok_status(models->result)) {
                if (auto ids = model_ids(models->result)) {
                    offered = ids;
                    offers = std::to_string(ids->size()) + " models: " + list_names(*ids, t.keys);
                } else {
                    problems.push_back(
                        "GET /models did not answer a model list (is base_url right?)");
                }
            } else {
                problems.push_back(
                    "GET /models: " +
                    failure(models->result, t.keys, *protocol::find(t.config->core.protocol)));
            }
            if (!list) {
                // No list to ask: nothing more to check with this key.
            } else if (ok_status(list->result) && html_page(list->result))
                problems.push_back(second_probe_name(p.core) + kHtmlHint);
            else if (!ok_status(list->result))
                problems.push_back(second_probe_name(p.core) + ": " +
                                   failure(list->result, t.keys, proto));
            std::string line = "ok (" + offers + ")";
            if (!problems.empty()) {
                rc = cli::kFatal;
                line = "FAILED: ";
                for (size_t i = 0; i < problems.size(); ++i)
                    line += (i ? "; " : "") + problems[i];
            }
            std::printf("  key %d: %s\n", slot + 1, line.c_str());
        }
        if (!offered) continue;
        if (!proto.polls()) {
            for (const auto& wire : wire_models(p.core))
                if (std::find(offered->begin(), offered->end(), wire) == offered->end())
                    std::printf(
                        "  warning: the provider does not offer model %s (a job's length and "
                        "orientation in [providers.%s.models]; set chat_model to its names)\n",
                        wire.c_str(), p.core.name.c_str());
            continue;
        }
        for (const auto& [model, spec] : p.core.models)
            if (std::find(offered->begin(), offered->end(), model) == offered->end())
                std::printf(
                    "  warning: the provider does not offer model %s (configured in "
                    "[providers.%s.models]; jobs for it will fail)\n",
                    model.c_str(), p.core.name.c_str());
    }
    return rc;
}

}  // namespace vd::manage
