#include "daemon/notice.hpp"

#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "daemon/fsutil.hpp"

namespace vd {
namespace {

using nlohmann::json;

constexpr size_t kMaxNoticeBytes = 64 * 1024;

std::string path_of(const std::string& state_dir, const std::string& id) {
    return notice_dir(state_dir) + "/" + id + ".json";
}

json to_json(const Notice& n) {
    return {{"schema", "videodrop.notice/1"},
            {"id", n.id},
            {"name", n.name},
            {"outcome", n.outcome},
            {"sidecar", n.sidecar},
            {"mp4", n.mp4},
            {"error", n.error},
            {"hook_done", n.hook_done},
            {"webhook_done", n.webhook_done},
            {"webhook_attempts", n.webhook_attempts},
            {"next_webhook_ms", n.next_webhook_ms}};
}

Notice from_json(const json& j) {
    Notice n;
    n.id = j.at("id").get<std::string>();
    n.name = j.at("name").get<std::string>();
    n.outcome = j.at("outcome").get<std::string>();
    n.sidecar = j.value("sidecar", "");
    n.mp4 = j.value("mp4", "");
    n.error = j.value("error", "");
    n.hook_done = j.value("hook_done", false);
    n.webhook_done = j.value("webhook_done", false);
    n.webhook_attempts = j.value("webhook_attempts", 0);
    n.next_webhook_ms = j.value("next_webhook_ms", int64_t{0});
    return n;
}

}  // namespace

Notice notice_of(const Job& job, const Paths& paths, const std::string& stem) {
    Notice n;
    n.id = job.id;
    n.name = job.spec.name;
    if (job.state == State::delivered) {
        n.outcome = "delivered";
        n.sidecar = paths.outbox + "/" + stem + ".json";
        n.mp4 = paths.outbox + "/" + stem + ".mp4";
    } else {
        n.outcome = job.state == State::cancelled ? "cancelled" : "failed";
        n.sidecar = paths.failed + "/" + stem + ".error.json";
        n.error = job.error ? job.error->code : "unknown";
    }
    return n;
}

Notice notice_of(const std::string& id, const std::string& name, const std::string& error,
                 const Paths& paths, const std::string& stem) {
    Notice n;
    n.id = id;
    n.name = name;
    n.outcome = error == "cancelled" ? "cancelled" : "failed";
    n.sidecar = paths.failed + "/" + stem + ".error.json";
    n.error = error;
    return n;
}

std::string notice_dir(const std::string& state_dir) {
    return state_dir + "/notify";
}

tl::expected<bool, std::string> save_notice(const std::string& state_dir, const Notice& n,
                                            bool only_new) {
    if (auto r = fs::make_dirs(notice_dir(state_dir), 0700); !r) return tl::unexpected(r.error());
    const std::string path = path_of(state_dir, n.id);
    if (only_new && fs::exists(path)) return false;
    if (auto w = fs::write_atomic(path, to_json(n).dump() + "\n"); !w)
        return tl::unexpected(w.error());
    return true;
}

void remove_notice(const std::string& state_dir, const std::string& id) {
    ::unlink(path_of(state_dir, id).c_str());
}

std::vector<Notice> load_notices(const std::string& state_dir, std::vector<std::string>& problems) {
    std::vector<std::pair<std::filesystem::file_time_type, Notice>> found;
    std::error_code ec;
    for (std::filesystem::directory_iterator it(notice_dir(state_dir), ec), end; !ec && it != end;
         it.increment(ec)) {
        const std::string file = it->path().filename();
        if (file.size() < 6 || file.compare(file.size() - 5, 5, ".json") != 0 || file[0] == '.')
            continue;
        auto text = fs::read_file(it->path(), kMaxNoticeBytes);
        try {
            if (!text) throw std::runtime_error(text.error());
            Notice n = from_json(json::parse(*text));
            if (n.id + ".json" != file) throw std::runtime_error("its id is not its file name");
            std::error_code tec;
            found.emplace_back(it->last_write_time(tec), std::move(n));
        } catch (const std::exception& e) {
            problems.push_back("notice " + it->path().string() +
                               " unreadable, left there: " + e.what());
        }
    }
    std::sort(found.begin(), found.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<Notice> out;
    for (auto& [t, n] : found)
        out.push_back(std::move(n));
    return out;
}

}  // namespace vd
