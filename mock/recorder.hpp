// The request log: every request in memory (the newest `limit`) and, when a file is given, as
// one JSON object a line.
#pragma once

#include <cstdio>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "mock/mock.hpp"

namespace vd::mock {

nlohmann::json to_json(const RecordedRequest& r);

class Recorder {
  public:
    explicit Recorder(size_t limit) : limit_(limit) {}
    ~Recorder();
    // Appends to `path` from now on ("" = memory only). False when the file cannot be opened.
    bool open(const std::string& path);
    void add(RecordedRequest r);
    std::vector<RecordedRequest> all() const;

  private:
    mutable std::mutex mu_;
    size_t limit_;
    std::deque<RecordedRequest> records_;
    std::string path_;
    std::FILE* file_ = nullptr;
};

}  // namespace vd::mock
