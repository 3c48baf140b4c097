// The manifest corpus (tests/manifests): its config and its files.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "config/config.hpp"

namespace vd::test {

inline const std::string kCorpus = VD_SOURCE_DIR "/tests/manifests";

// tests/manifests/videodrop.toml; also (re)creates the corpus symlinks if the checkout lost them.
Config corpus_config();

// The manifests directly in tests/manifests/SUBDIR, sorted.
std::vector<std::filesystem::path> corpus_manifests(const std::string& subdir);

}  // namespace vd::test
