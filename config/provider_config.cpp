#include "config/provider_config.hpp"

#include <algorithm>
#include <tuple>

#include "config/profiles.hpp"
#include "pipeline/chat_sse/chat_sse.hpp"
#include "pipeline/openai_videos/openai_videos.hpp"
#include "pipeline/protocol.hpp"

namespace vd {
namespace {

template <class Enum>
Enum enum_of(const std::string& word, const std::vector<std::string>& words,
             const std::vector<Enum>& values) {
    for (size_t i = 0; i < words.size(); ++i)
        if (words[i] == word) return values[i];
    return values.front();
}

// [dialect.paths]: each must start with '/'; those about one video name it with "{id}".
void read_paths(const toml::table& t, const std::string& path, ApiPaths& paths,
                ConfigErrors& errors) {
    TableReader r(t, path, errors);
    for (auto [key, out, with_id] :
         {std::tuple{"create", &paths.create, false}, std::tuple{"get", &paths.get, true},
          std::tuple{"list", &paths.list, false}, std::tuple{"content", &paths.content, true},
          std::tuple{"remix", &paths.remix, true}, std::tuple{"delete", &paths.remove, true}}) {
        if (!r.read_string(key, *out)) continue;
        if (out->empty() && std::string_view(key) == "list") continue;  // the provider has none
        const bool has_id = out->find("{id}") != std::string::npos;
        if (out->empty() || out->front() != '/')
            r.error(key, "\"" + *out + "\" must start with '/' (a path under base_url)");
        else if (with_id && !has_id)
            r.error(key, "\"" + *out + "\" must contain {id}, where the video id goes");
        else if (!with_id && has_id)
            r.error(key, "\"" + *out + "\" cannot contain {id}: no video is known yet");
        else if (out->find('?') != std::string::npos)
            r.error(key, "\"" + *out + "\" cannot carry a query (videodrop adds its own)");
    }
    r.finish();
}

void read_dialect(const toml::table& t, const std::string& path, Dialect& d, ConfigErrors& errors) {
    TableReader r(t, path, errors);
    std::string word;
    const std::vector<std::string> auths{"bearer", "bare", "basic"};
    if (r.read_choice("auth", word, auths))
        d.auth = enum_of<AuthScheme>(word, auths,
                                     {AuthScheme::bearer, AuthScheme::bare, AuthScheme::basic});
    const std::vector<std::string> encodings{"multipart", "json", "auto"};
    if (r.read_choice("encoding", word, encodings))
        d.encoding = enum_of<CreateEncoding>(
            word, encodings,
            {CreateEncoding::multipart, CreateEncoding::json, CreateEncoding::auto_});
    const std::vector<std::string> durations{"seconds_string", "seconds_int", "duration_int"};
    if (r.read_choice("duration_field", word, durations))
        d.duration =
            enum_of<DurationField>(word, durations,
                                   {DurationField::seconds_string, DurationField::seconds_int,
                                    DurationField::duration_int});
    const std::vector<std::string> sizes{"size", "width_height", "aspect_ratio"};
    if (r.read_choice("size_field", word, sizes))
        d.size = enum_of<SizeField>(
            word, sizes, {SizeField::size, SizeField::width_height, SizeField::aspect_resolution});
    const std::vector<std::string> images{"file", "data_url", "frame_images"};
    if (r.read_choice("image", word, images))
        d.image = enum_of<ImageField>(
            word, images, {ImageField::file, ImageField::data_url, ImageField::frame_images});
    if (r.read_string("image_field", d.image_field)) {
        auto steps = openai_videos::parse_field_path(d.image_field);
        bool keys_only = steps && std::none_of(steps->begin(), steps->end(),
                                               [](const auto& s) { return s.is_index; });
        if (!keys_only)
            r.error("image_field", "\"" + d.image_field +
                                       "\" is not a field name or a dotted path of names (e.g. "
                                       "\"input_reference\" or \"input_reference.image_url\")");
    }
    if (r.read_string("result_field", d.result_field) && !d.result_field.empty() &&
        !openai_videos::parse_field_path(d.result_field))
        r.error("result_field", "\"" + d.result_field +
                                    "\" is not a field path (e.g. \"url\", \"metadata.url\", "
                                    "\"output.videos[0].url\", \"urls[0]\")");
    r.read_strings("queued_words", d.queued_words);
    r.read_strings("running_words", d.running_words);
    r.read_strings("completed_words", d.completed_words);
    r.read_strings("failed_words", d.failed_words);
    r.read_bool("url_gets_key", d.url_gets_key);
    if (const auto* p = r.read_table("paths")) read_paths(*p, path + ".paths", d.paths, errors);
    r.finish();
}

// `profile = "NAME"`: the shipped profile's [dialect], before the provider's own.
void apply_profile(TableReader& r, const std::string& path, ProviderConfig& p,
                   ConfigErrors& errors) {
    const ShippedProfile* profile = find_profile(p.profile);
    if (!profile) {
        r.error("profile", "\"" + p.profile + "\" is not a shipped profile (use " +
                               profile_names() + ", or describe the server in [" + path +
                               ".dialect])");
        return;
    }
    toml::table root;
    try {
        root = toml::parse(profile->text, "profile " + p.profile);
    } catch (const toml::parse_error& e) {
        r.error("profile", "the shipped profile \"" + p.profile +
                               "\" does not parse: " + std::string(e.description()));
        return;
    }
    if (const auto* d = root["dialect"].as_table())
        read_dialect(*d, "profile " + p.profile + ": dialect", p.core.dialect, errors);
}

ModelSpec read_model(const std::string& name, const toml::table& t, const std::string& path,
                     ConfigErrors& errors) {
    TableReader r(t, path, errors);
    ModelSpec m;
    m.name = name;
    bool has_seconds = r.read_ints("seconds", m.seconds, 1, 3600);
    if (!r.get("seconds"))
        r.error("seconds", "missing (list the allowed durations, e.g. [4, 8])");
    else if (has_seconds && m.seconds.empty())
        r.error("seconds", "empty (list at least one)");

    std::vector<std::string> sizes;
    if (r.read_strings("sizes", sizes)) {
        if (sizes.empty()) r.error("sizes", "empty (list at least one, e.g. [\"1280x720\"])");
        for (const auto& s : sizes) {
            auto parsed = parse_size(s);
            if (!parsed)
                r.error("sizes",
                        "\"" + s + "\" is not a size (write WIDTHxHEIGHT, e.g. \"1280x720\")");
            else
                m.sizes.push_back(to_string(*parsed));
        }
    } else if (!r.get("sizes")) {
        r.error("sizes", "missing (list the allowed sizes, e.g. [\"1280x720\", \"720x1280\"])");
    }
    r.read_number("usd_per_second", m.usd_per_second, 0);
    if (r.read_string("chat_model", m.chat_model))
        if (auto bad = chat_sse::template_error(m.chat_model))
            r.error("chat_model", "\"" + m.chat_model + "\" has " + *bad +
                                      ", which is not a placeholder (use {orientation} and "
                                      "{seconds}, e.g. \"sora2pro-{orientation}-{seconds}s\")");
    r.finish();
    return m;
}

void check_proxy(TableReader& r, const std::string& proxy) {
    // The URL may carry credentials, so messages never repeat it.
    for (const char* scheme : {"http://", "https://", "socks5://", "socks5h://"})
        if (proxy.rfind(scheme, 0) == 0 && proxy.size() > std::string_view(scheme).size()) return;
    r.error("proxy",
            "unsupported proxy URL (start it with http://, https://, socks5:// or socks5h://)");
}

ProviderConfig read_provider(const std::string& name, const toml::table& t, ConfigErrors& errors) {
    std::string path = join_key("providers", name);
    TableReader r(t, path, errors);
    ProviderConfig p;
    p.core.name = name;
    std::vector<std::string> protocols;
    for (auto n : protocol::names())
        protocols.emplace_back(n);
    r.read_choice("protocol", p.core.protocol, protocols);
    r.read_string("base_url", p.core.base_url);
    if (!protocol::self_served(p.core.protocol)) {
        if (p.core.base_url.empty())
            r.error("base_url", "missing (e.g. base_url = \"https://api.openai.com/v1\")");
        else if (p.core.base_url.rfind("http://", 0) != 0 &&
                 p.core.base_url.rfind("https://", 0) != 0)
            r.error("base_url", "must start with http:// or https://");
    }

    int sources = 0;
    for (auto [key, out] :
         {std::pair{"api_key_env", &p.api_key_env}, std::pair{"api_key_file", &p.api_key_file},
          std::pair{"keys_file", &p.keys_file},
          std::pair{"api_key_credential", &p.api_key_credential}}) {
        if (!r.read_string(key, *out)) continue;
        if (out->empty()) r.error(key, "empty (name the variable or file, or remove the key)");
        if (++sources == 2)
            r.error(key,
                    "give only one of api_key_env, api_key_file, keys_file or api_key_credential");
    }
    if (!p.api_key_credential.empty() &&
        (p.api_key_credential.find('/') != std::string::npos || p.api_key_credential == "." ||
         p.api_key_credential == ".."))
        r.error("api_key_credential",
                "is the credential's name as in LoadCredential=NAME:PATH, not a path");
    if (r.read_string("proxy", p.proxy)) check_proxy(r, p.proxy);

    if (r.read_number("submits_per_minute", p.core.submits_per_minute, 0) &&
        p.core.submits_per_minute <= 0)
        r.error("submits_per_minute", "must be more than 0");
    r.read_int("max_in_flight", p.core.max_in_flight, 1, 100000);

    // A stream's bounds (chat-sse): how long it may stay open, and what a broken one becomes.
    const bool streams = p.core.protocol == "chat-sse";
    if (r.read_duration("stream_timeout", p.core.stream_timeout)) {
        if (!streams) r.error("stream_timeout", "only a protocol = \"chat-sse\" provider streams");
        if (p.core.stream_timeout < Millis{10000})
            r.error("stream_timeout", "must be at least 10s (a video takes minutes)");
    }
    std::string lost;
    if (r.read_choice("on_lost_stream", lost, {"fail", "resubmit"})) {
        if (!streams) r.error("on_lost_stream", "only a protocol = \"chat-sse\" provider streams");
        p.core.resubmit_lost_stream = lost == "resubmit";
    }
    if (r.read_string("profile", p.profile)) apply_profile(r, path, p, errors);
    if (const auto* d = r.read_table("dialect"))
        read_dialect(*d, path + ".dialect", p.core.dialect, errors);
    if (const auto* models = r.read_table("models")) {
        for (const auto& [key, node] : *models) {
            std::string model_path = join_key(path + ".models", key.str());
            if (!node.is_table()) {
                errors.add(node.source().begin.line, model_path,
                           "expected a table [" + model_path + "], got " + toml_type_name(node));
                continue;
            }
            p.core.models[std::string(key.str())] =
                read_model(std::string(key.str()), *node.as_table(), model_path, errors);
        }
    }
    r.finish();
    return p;
}

}  // namespace

std::map<std::string, ProviderConfig> read_providers(const toml::table& providers,
                                                     ConfigErrors& errors) {
    std::map<std::string, ProviderConfig> out;
    for (const auto& [key, node] : providers) {
        std::string name(key.str());
        if (!node.is_table()) {
            std::string path = join_key("providers", name);
            errors.add(node.source().begin.line, path,
                       "expected a table [" + path + "], got " + toml_type_name(node));
            continue;
        }
        out[name] = read_provider(name, *node.as_table(), errors);
    }
    return out;
}

}  // namespace vd
