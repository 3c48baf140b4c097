#include "tests/config/corpus.hpp"

#include <algorithm>

#include <catch2/catch.hpp>

#include "config/manifest.hpp"

namespace vd::test {
namespace {

namespace fs = std::filesystem;

void ensure_symlink(const fs::path& link, const fs::path& target) {
    if (fs::is_symlink(fs::symlink_status(link))) return;
    fs::remove(link);
    fs::create_symlink(target, link);
}

}  // namespace

Config corpus_config() {
    ensure_symlink(kCorpus + "/good/linked.png", "ref.png");
    ensure_symlink(kCorpus + "/bad/escape.png", "../good/ref.png");
    ensure_symlink(kCorpus + "/bad/dangling.png", "nothing-here.png");
    ensure_symlink(kCorpus + "/bad/unreadable--symlink-out.txt", "../good/plain.txt");
    fs::create_directories(kCorpus + "/bad/folder.png");
    auto cfg = load_config(kCorpus + "/videodrop.toml");
    if (!cfg) FAIL(cfg.error());
    return *cfg;
}

std::vector<fs::path> corpus_manifests(const std::string& subdir) {
    std::vector<fs::path> out;
    for (const auto& entry : fs::directory_iterator(kCorpus + "/" + subdir))
        if (entry.is_regular_file() && is_manifest_name(entry.path().filename().string()))
            out.push_back(entry.path());
    std::sort(out.begin(), out.end());
    return out;
}

}  // namespace vd::test
