// Strict reading of one TOML table: every key read is known, the rest are reported as unknown;
// wrong types and bad values become errors that name the file, the line and the dotted key.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <toml++/toml.h>

#include "pipeline/types.hpp"

namespace vd {

// Every error of one config file, each "FILE:LINE: KEY: message".
struct ConfigErrors {
    std::string source;
    std::vector<std::string> lines;
    void add(int64_t line, std::string_view key, std::string_view message);
    std::string joined() const;
};

// "polling.min_interval"; keys that aren't bare TOML keys are quoted as they'd be written.
std::string join_key(std::string_view path, std::string_view key);

// "a string", "an integer", ... for "expected X, got Y" messages.
std::string toml_type_name(const toml::node& node);

class TableReader {
  public:
    // `path` is the table's dotted name ("" for the root).
    TableReader(const toml::table& table, std::string path, ConfigErrors& errors);

    std::string key_path(std::string_view key) const;  // "polling.min_interval"
    int64_t line_of(std::string_view key) const;       // the table's line when the key is absent
    const toml::node* get(std::string_view key);       // marks the key known; nullptr if absent
    void error(std::string_view key, std::string_view message);

    // Each returns true when the key is present and valid (then `out` is set), false when absent
    // (`out` keeps its default) or invalid (an error is recorded).
    bool read_string(std::string_view key, std::string& out);
    bool read_choice(std::string_view key, std::string& out,
                     const std::vector<std::string>& allowed);
    bool read_int(std::string_view key, int64_t& out, int64_t min, int64_t max);
    bool read_int(std::string_view key, int& out, int min, int max);
    bool read_number(std::string_view key, double& out, double min);  // integer or float
    bool read_bool(std::string_view key, bool& out);
    bool read_duration(std::string_view key, Millis& out);
    bool read_strings(std::string_view key, std::vector<std::string>& out);
    bool read_ints(std::string_view key, std::vector<int>& out, int min, int max);
    const toml::table* read_table(std::string_view key);

    // Reports the keys no getter asked for.
    void finish();

  private:
    bool wrong_type(std::string_view key, const toml::node& node, std::string_view expected);

    const toml::table& table_;
    std::string path_;
    ConfigErrors& errors_;
    std::vector<std::string> known_;
};

}  // namespace vd
