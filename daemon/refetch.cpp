#include "daemon/refetch.hpp"

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "daemon/fsutil.hpp"

namespace vd {
namespace {

std::string path_of(const std::string& state_dir, const std::string& name) {
    return state_dir + "/refetch/" + name + ".json";
}

}  // namespace

tl::expected<void, std::string> write_refetch_note(const std::string& state_dir,
                                                   const RefetchNote& note) {
    if (auto r = fs::make_dirs(state_dir + "/refetch"); !r) return r;
    nlohmann::json j = {{"schema", "videodrop.refetch/1"}, {"name", note.name},
                        {"provider", note.provider},       {"video_id", note.video_id},
                        {"key_slot", note.key_slot},       {"prompt", note.prompt}};
    return fs::write_atomic(path_of(state_dir, note.name), j.dump() + "\n");
}

std::optional<RefetchNote> read_refetch_note(const std::string& state_dir,
                                             const std::string& name) {
    auto text = fs::read_file(path_of(state_dir, name), 64 * 1024);
    if (!text) return std::nullopt;
    try {
        auto j = nlohmann::json::parse(*text);
        RefetchNote n;
        n.name = j.at("name").get<std::string>();
        n.provider = j.at("provider").get<std::string>();
        n.video_id = j.at("video_id").get<std::string>();
        n.key_slot = j.value("key_slot", 0);
        n.prompt = j.value("prompt", "");
        if (n.name != name || n.video_id.empty()) return std::nullopt;
        return n;
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

void remove_refetch_note(const std::string& state_dir, const std::string& name) {
    ::unlink(path_of(state_dir, name).c_str());
}

}  // namespace vd
