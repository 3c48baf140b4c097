#include "mock/store.hpp"

namespace vd::mock {

void VideoStore::add(Video v) {
    std::lock_guard lock(mu_);
    index_[v.id] = videos_.size();
    videos_.push_back(std::move(v));
}

std::optional<Video> VideoStore::find(const std::string& id) const {
    std::lock_guard lock(mu_);
    auto it = index_.find(id);
    if (it == index_.end() || videos_[it->second].deleted) return std::nullopt;
    return videos_[it->second];
}

bool VideoStore::erase(const std::string& id) {
    std::lock_guard lock(mu_);
    auto it = index_.find(id);
    if (it == index_.end() || videos_[it->second].deleted) return false;
    // Kept as a tombstone so that a page cursor naming it still works.
    videos_[it->second].deleted = true;
    videos_[it->second].prompt.clear();
    return true;
}

std::optional<Page> VideoStore::list(const std::string& after, size_t limit, bool ascending) const {
    std::lock_guard lock(mu_);
    auto n = static_cast<std::ptrdiff_t>(videos_.size());
    std::ptrdiff_t step = ascending ? 1 : -1;
    std::ptrdiff_t i = ascending ? 0 : n - 1;
    if (!after.empty()) {
        auto it = index_.find(after);
        if (it == index_.end()) return std::nullopt;
        i = static_cast<std::ptrdiff_t>(it->second) + step;
    }
    Page page;
    for (; i >= 0 && i < n; i += step) {
        const Video& v = videos_[static_cast<size_t>(i)];
        if (v.deleted) continue;
        if (page.videos.size() == limit) {
            page.has_more = true;
            break;
        }
        page.videos.push_back(v);
    }
    return page;
}

size_t VideoStore::created() const {
    std::lock_guard lock(mu_);
    return videos_.size();
}

}  // namespace vd::mock
