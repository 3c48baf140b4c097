#include "app/suggest.hpp"

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <uv.h>

#include <spdlog/version.h>
#include <algorithm>
#include <nlohmann/json.hpp>

#include <CLI/Version.hpp>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avutil.h>
}

namespace vd::cli {

namespace {

size_t distance(const std::string& a, const std::string& b) {
    std::vector<size_t> row(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j)
        row[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
        size_t diagonal = row[0];
        row[0] = i;
        for (size_t j = 1; j <= b.size(); ++j) {
            size_t above = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
            diagonal = above;
        }
    }
    return row[b.size()];
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
    return std::find(v.begin(), v.end(), s) != v.end();
}

std::string hint(const std::string& word, const std::vector<std::string>& candidates) {
    std::string near = closest(word, candidates);
    return near.empty() ? "" : " (did you mean " + near + "?)";
}

std::string dotted(unsigned v) {
    return std::to_string(v >> 16) + "." + std::to_string((v >> 8) & 0xff) + "." +
           std::to_string(v & 0xff);
}

}  // namespace

std::string closest(const std::string& word, const std::vector<std::string>& candidates) {
    std::string best;
    size_t best_distance = word.size() / 3 + 1;
    for (const auto& c : candidates) {
        size_t d = distance(word, c);
        if (d < best_distance) {
            best = c;
            best_distance = d;
        }
    }
    return best;
}

std::string unknown_word(int argc, const char* const* argv,
                         const std::vector<std::string>& subcommands,
                         const std::vector<std::string>& options,
                         const std::vector<std::string>& options_with_value) {
    bool seen_subcommand = false;
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        if (arg == "--") break;
        if (arg.rfind("--", 0) == 0) {
            std::string name = arg.substr(0, arg.find('='));
            if (!contains(options, name))
                return "unknown option " + name + hint(name, options) +
                       "; `videodrop --help` lists them";
            if (arg.find('=') == std::string::npos && contains(options_with_value, name)) ++i;
            continue;
        }
        if (arg.size() > 1 && arg[0] == '-') {  // -c FILE and other short options
            if (contains(options_with_value, arg)) ++i;
            continue;
        }
        if (seen_subcommand) continue;  // a subcommand's own arguments
        if (!contains(subcommands, arg))
            return "unknown command \"" + arg + "\"" + hint(arg, subcommands) +
                   "; `videodrop --help` lists the commands";
        seen_subcommand = true;
    }
    return "";
}

std::string version_text() {
    std::string text = std::string("videodrop ") + VD_VERSION + "\n";
    const curl_version_info_data* curl = curl_version_info(CURLVERSION_NOW);
    text += std::string("libcurl ") + curl->version + " (" +
            (curl->ssl_version ? curl->ssl_version : "no TLS") + ")\n";
    text += std::string("libuv ") + uv_version_string() + "\n";
    text += std::string("FFmpeg ") + av_version_info() + " (libavformat " +
            dotted(avformat_version()) + ", libavcodec " + dotted(avcodec_version()) + ")\n";
    text += std::string("OpenSSL ") + OpenSSL_version(OPENSSL_VERSION) + "\n";
    text += "spdlog " + std::to_string(SPDLOG_VER_MAJOR) + "." + std::to_string(SPDLOG_VER_MINOR) +
            "." + std::to_string(SPDLOG_VER_PATCH) + "\n";
    text += "nlohmann-json " + std::to_string(NLOHMANN_JSON_VERSION_MAJOR) + "." +
            std::to_string(NLOHMANN_JSON_VERSION_MINOR) + "." +
            std::to_string(NLOHMANN_JSON_VERSION_PATCH) + "\n";
    text += std::string("CLI11 ") + CLI11_VERSION;
    return text;
}

}  // namespace vd::cli
