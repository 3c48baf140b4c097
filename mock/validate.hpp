// Checks of create and remix requests, with the reference protocol's codes and messages.
#pragma once

#include <map>
#include <string>

#include <tl/expected.hpp>

#include "mock/api_error.hpp"
#include "mock/body.hpp"
#include "pipeline/types.hpp"

namespace vd::mock {

struct CreateSpec {
    std::string model;
    std::string prompt;
    Size size;
    int seconds = 0;
};

tl::expected<CreateSpec, ApiError> validate_create(const Body& body,
                                                   const std::map<std::string, ModelSpec>& models);
// The remix's new prompt.
tl::expected<std::string, ApiError> validate_remix(const Body& body);

// sora-2 and sora-2-pro as documented (providers.md).
std::map<std::string, ModelSpec> default_models();

}  // namespace vd::mock
