// The mock's videos, in creation order; thread-safe, hands out copies.
#pragma once

#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "mock/video.hpp"

namespace vd::mock {

struct Page {
    std::vector<Video> videos;
    bool has_more = false;
};

class VideoStore {
  public:
    void add(Video v);
    std::optional<Video> find(const std::string& id) const;  // deleted ones are not found
    bool erase(const std::string& id);
    // Newest first unless `ascending`; after the video `after` (which may be deleted).
    // nullopt when `after` names no video ever created.
    std::optional<Page> list(const std::string& after, size_t limit, bool ascending) const;
    size_t created() const;

  private:
    mutable std::mutex mu_;
    std::vector<Video> videos_;
    std::unordered_map<std::string, size_t> index_;
};

}  // namespace vd::mock
