// One directory watched with inotify on the loop. Unlike uv_fs_event, it tells a file renamed
// into the directory (complete by the maildir convention, so taken at once) from one being
// written there (which must settle first).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include <uv.h>

namespace vd {

struct DirEvent {
    std::string name;        // the entry within the directory; empty for `about_dir`, `overflow`
    bool moved_in = false;   // renamed into the directory (IN_MOVED_TO)
    bool written = false;    // created, written or closed after writing: its content may change
    bool left = false;       // renamed out of the directory or deleted (IN_MOVED_FROM, IN_DELETE)
    bool about_dir = false;  // the directory itself was deleted or moved: the watch is dead
    bool overflow = false;   // the kernel dropped events: only a full listing knows what changed
};

class DirWatch {
  public:
    using Callback = std::function<void(const DirEvent&)>;

    // Watches `dir`; on failure nullptr and `*error` is a negative errno. The callback runs on the
    // loop thread and must not destroy the watch.
    static std::unique_ptr<DirWatch> open(uv_loop_t* loop, const std::string& dir,
                                          Callback callback, int* error);
    ~DirWatch();  // stops at once; the handle is freed once the loop closes it
    DirWatch(const DirWatch&) = delete;
    DirWatch& operator=(const DirWatch&) = delete;

  private:
    struct Handle;
    explicit DirWatch(Handle* handle) : handle_(handle) {}
    static void on_readable(uv_poll_t* poll, int status, int events);
    Handle* handle_;
};

}  // namespace vd
