#include <cstdio>
#include <vector>

#include <spdlog/spdlog.h>

#include "app/app.hpp"
#include "mock/mock.hpp"
#include "pipeline/protocol.hpp"

namespace vd::cli {

std::optional<std::shared_ptr<void>> start_builtin_mocks(DaemonSetup& setup) {
    auto mocks = std::make_shared<std::vector<std::unique_ptr<mock::Server>>>();
    for (auto& [name, p] : setup.config.providers) {
        if (!protocol::self_served(p.core.protocol) || !p.core.base_url.empty()) continue;
        mock::Options o;
        o.queue_time = Millis{300};
        o.gen_time = Millis{1500};
        o.moderation_word = "forbidden";
        o.models = p.core.models;  // empty: the mock's own sora-2 and sora-2-pro
        o.keys = setup.keys[name];
        auto server = std::make_unique<mock::Server>(o);
        if (server->start() < 0) {
            std::fprintf(stderr,
                         "videodrop: providers.%s: the built-in mock cannot listen on "
                         "127.0.0.1\n",
                         name.c_str());
            return std::nullopt;
        }
        p.core.base_url = server->base_url();
        spdlog::info("providers.{}: built-in mock provider at {}", name, p.core.base_url);
        mocks->push_back(std::move(server));
    }
    return std::shared_ptr<void>(mocks);
}

}  // namespace vd::cli
