#include "mock/media_cache.hpp"

namespace vd::mock {

MediaCache::Result MediaCache::get(Size size, int seconds) {
    std::promise<Result> promise;
    std::shared_future<Result> clip;
    bool mine = false;
    {
        std::lock_guard lock(mu_);
        auto [it, inserted] = clips_.try_emplace({{size.width, size.height}, seconds});
        if (inserted) {
            it->second = promise.get_future().share();
            mine = true;
        }
        clip = it->second;
    }
    if (mine) {
        auto media = render_media(size, seconds);
        if (media)
            promise.set_value(std::make_shared<const Media>(std::move(*media)));
        else
            promise.set_value(tl::unexpected(media.error()));
    }
    return clip.get();
}

}  // namespace vd::mock
