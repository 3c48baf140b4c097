#include "config/toml_reader.hpp"

#include <algorithm>
#include <cstdio>

#include "config/config.hpp"
#include "config/wording.hpp"

namespace vd {
namespace {

// Keys that aren't bare TOML keys are shown quoted, as they'd be written.
std::string quote_key(std::string_view key) {
    bool bare = !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
    });
    return bare ? std::string(key) : "\"" + std::string(key) + "\"";
}

std::string number_text(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", v);
    return buf;
}

}  // namespace

std::string join_key(std::string_view path, std::string_view key) {
    return path.empty() ? quote_key(key) : std::string(path) + "." + quote_key(key);
}

void ConfigErrors::add(int64_t line, std::string_view key, std::string_view message) {
    std::string text = source.empty() ? "config" : source;
    if (line > 0) text += ":" + std::to_string(line);
    text += ": ";
    if (!key.empty()) text += std::string(key) + ": ";
    text += message;
    lines.push_back(std::move(text));
}

std::string ConfigErrors::joined() const {
    std::string out;
    for (const auto& l : lines)
        out += (out.empty() ? "" : "\n") + l;
    return out;
}

std::string toml_type_name(const toml::node& node) {
    switch (node.type()) {
        case toml::node_type::table:
            return "a table";
        case toml::node_type::array:
            return "a list";
        case toml::node_type::string:
            return "a string";
        case toml::node_type::integer:
            return "an integer";
        case toml::node_type::floating_point:
            return "a float";
        case toml::node_type::boolean:
            return "a boolean";
        case toml::node_type::date:
            return "a date";
        case toml::node_type::time:
            return "a time";
        case toml::node_type::date_time:
            return "a date-time";
        default:
            return "nothing";
    }
}

TableReader::TableReader(const toml::table& table, std::string path, ConfigErrors& errors)
    : table_(table), path_(std::move(path)), errors_(errors) {}

std::string TableReader::key_path(std::string_view key) const {
    return join_key(path_, key);
}

int64_t TableReader::line_of(std::string_view key) const {
    if (const auto* n = table_.get(key)) return n->source().begin.line;
    return table_.source().begin.line;
}

const toml::node* TableReader::get(std::string_view key) {
    known_.emplace_back(key);
    return table_.get(key);
}

void TableReader::error(std::string_view key, std::string_view message) {
    errors_.add(line_of(key), key_path(key), message);
}

bool TableReader::wrong_type(std::string_view key, const toml::node& node,
                             std::string_view expected) {
    error(key, "expected " + std::string(expected) + ", got " + toml_type_name(node));
    return false;
}

bool TableReader::read_string(std::string_view key, std::string& out) {
    const auto* n = get(key);
    if (!n) return false;
    if (!n->is_string()) return wrong_type(key, *n, "a string");
    out = n->as_string()->get();
    return true;
}

bool TableReader::read_choice(std::string_view key, std::string& out,
                              const std::vector<std::string>& allowed) {
    std::string value;
    if (!read_string(key, value)) return false;
    if (std::find(allowed.begin(), allowed.end(), value) == allowed.end()) {
        std::vector<std::string> quoted;
        for (const auto& a : allowed)
            quoted.push_back("\"" + a + "\"");
        error(key, "\"" + value + "\" is not allowed" + use_hint(quoted));
        return false;
    }
    out = value;
    return true;
}

bool TableReader::read_int(std::string_view key, int64_t& out, int64_t min, int64_t max) {
    const auto* n = get(key);
    if (!n) return false;
    if (!n->is_integer()) return wrong_type(key, *n, "an integer");
    int64_t v = n->as_integer()->get();
    if (v < min || v > max) {
        error(key, std::to_string(v) + " is out of range (use " + std::to_string(min) + " to " +
                       std::to_string(max) + ")");
        return false;
    }
    out = v;
    return true;
}

bool TableReader::read_int(std::string_view key, int& out, int min, int max) {
    int64_t v = 0;
    if (!read_int(key, v, min, max)) return false;
    out = static_cast<int>(v);
    return true;
}

bool TableReader::read_number(std::string_view key, double& out, double min) {
    const auto* n = get(key);
    if (!n) return false;
    double v = 0;
    if (n->is_integer())
        v = static_cast<double>(n->as_integer()->get());
    else if (n->is_floating_point())
        v = n->as_floating_point()->get();
    else
        return wrong_type(key, *n, "a number");
    if (!(v >= min) || v > 1e12) {
        error(key,
              "must be a number from " + number_text(min) + " up (got " + number_text(v) + ")");
        return false;
    }
    out = v;
    return true;
}

bool TableReader::read_bool(std::string_view key, bool& out) {
    const auto* n = get(key);
    if (!n) return false;
    if (!n->is_boolean()) return wrong_type(key, *n, "true or false");
    out = n->as_boolean()->get();
    return true;
}

bool TableReader::read_duration(std::string_view key, Millis& out) {
    const auto* n = get(key);
    if (!n) return false;
    if (!n->is_string()) return wrong_type(key, *n, "a duration string such as \"10s\"");
    const std::string& text = n->as_string()->get();
    auto d = parse_duration(text);
    if (!d) {
        error(key, "\"" + text + "\" is not a duration (write a number and a unit: \"250ms\", " +
                       "\"10s\", \"1.5s\", \"30m\" or \"1h\")");
        return false;
    }
    out = *d;
    return true;
}

bool TableReader::read_strings(std::string_view key, std::vector<std::string>& out) {
    const auto* n = get(key);
    if (!n) return false;
    if (!n->is_array()) return wrong_type(key, *n, "a list of strings");
    std::vector<std::string> values;
    for (const auto& el : *n->as_array()) {
        if (!el.is_string()) return wrong_type(key, el, "a list of strings");
        values.push_back(el.as_string()->get());
    }
    out = std::move(values);
    return true;
}

bool TableReader::read_ints(std::string_view key, std::vector<int>& out, int min, int max) {
    const auto* n = get(key);
    if (!n) return false;
    if (!n->is_array()) return wrong_type(key, *n, "a list of integers");
    std::vector<int> values;
    for (const auto& el : *n->as_array()) {
        if (!el.is_integer()) return wrong_type(key, el, "a list of integers");
        int64_t v = el.as_integer()->get();
        if (v < min || v > max) {
            error(key, std::to_string(v) + " is out of range (use " + std::to_string(min) + " to " +
                           std::to_string(max) + ")");
            return false;
        }
        values.push_back(static_cast<int>(v));
    }
    out = std::move(values);
    return true;
}

const toml::table* TableReader::read_table(std::string_view key) {
    const auto* n = get(key);
    if (!n) return nullptr;
    if (!n->is_table()) {
        wrong_type(key, *n, "a table");
        return nullptr;
    }
    return n->as_table();
}

void TableReader::finish() {
    for (const auto& [key, node] : table_) {
        if (std::find(known_.begin(), known_.end(), key.str()) != known_.end()) continue;
        std::string hint = did_you_mean(key.str(), known_);
        if (hint.empty())
            hint = known_.empty() ? " (nothing is allowed here)"
                                  : " (allowed here: " + one_of(known_) + ")";
        errors_.add(key.source().begin.line, key_path(key.str()), "unknown key" + hint);
    }
}

}  // namespace vd
