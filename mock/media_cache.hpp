// Rendered media per (size, seconds): rendered once on first use, shared after. Concurrent first
// requests for the same clip wait for one render.
#pragma once

#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include <tl/expected.hpp>

#include "mock/media.hpp"

namespace vd::mock {

class MediaCache {
  public:
    using Result = tl::expected<std::shared_ptr<const Media>, std::string>;
    Result get(Size size, int seconds);

  private:
    std::mutex mu_;
    std::map<std::pair<std::pair<int, int>, int>, std::shared_future<Result>> clips_;
};

}  // namespace vd::mock
