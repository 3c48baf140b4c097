// Watches the inbox folder and says which files are ready to claim (architecture.md, "Watching
// the inbox"). inotify only hints that something changed, and which files were renamed in; a
// scan of the folder decides, with vd::intake::decide() judging each file. Scans run at start,
// right after a file is renamed in, shortly after other hints, when a settling file may have
// become ready, and `rescan` after changes (which also covers inotify overflow).
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include <uv.h>

#include "daemon/dir_watch.hpp"
#include "pipeline/intake.hpp"
#include "pipeline/types.hpp"

namespace vd {

struct InboxOptions {
    Millis settle{2000};   // size and mtime must hold this long before a file is ready
    Millis rescan{30000};  // a full scan this long after a burst of hints (or always, see below)
    Millis debounce{30};   // a burst of hints becomes one scan (renamed-in files: sooner)
    int64_t max_manifest_bytes = 1024 * 1024;
};

struct InboxCallbacks {
    // A manifest is ready: claim it by renaming it out of the inbox (an image beside a .txt
    // travels with it; look for it then).
    std::function<void(const std::string& name)> on_ready;
    // A manifest name that can never be taken (symlink, bad name, too big, ...): `reason` is for
    // the user's error file.
    std::function<void(const std::string& name, const std::string& reason)> on_reject;
};

// Each file is reported once (ready or reject) for as long as it stays in the inbox. A consumer
// that cannot claim a reported file now calls forget(name): the file is then judged afresh (and
// settles again) at a later scan, no later than `look_again` from now if given. A file that leaves
// the inbox is forgotten by itself. Callbacks run on the loop thread, never from inside start();
// they may call forget() or stop().
class InboxWatcher {
  public:
    InboxWatcher(uv_loop_t* loop, std::string dir, InboxOptions options, InboxCallbacks callbacks);
    ~InboxWatcher();
    InboxWatcher(const InboxWatcher&) = delete;
    InboxWatcher& operator=(const InboxWatcher&) = delete;

    // Arms the watch and schedules the first scan (on the loop, right away).
    void start();
    // Scans now, reporting from inside this call (for tests and `videodrop once`).
    void scan_now();
    void forget(const std::string& name, std::optional<Millis> look_again = std::nullopt);
    // Closes the handles; after the loop runs until idle it closes cleanly. Safe to call twice.
    void stop();

    bool inbox_present() const { return present_; }
    size_t tracked() const { return files_.size(); }  // settling or reported files

  private:
    struct Entry {
        std::optional<intake::SeenBefore> seen;
        ino_t ino = 0;
        bool reported = false;
    };

    void schedule_scan(Millis delay);             // scan no later than `delay` from now
    void arm_watch(const struct stat& dir_stat);  // (re)arms unless already on this directory
    void disarm_watch();
    static bool is_remote_fs(const std::string& dir);
    void on_event(const DirEvent& e);
    static void on_timer(uv_timer_t* timer);

    uv_loop_t* loop_;
    std::string dir_;
    InboxOptions options_;
    InboxCallbacks callbacks_;
    uv_timer_t* timer_ = nullptr;      // heap: freed by its close callback
    std::unique_ptr<DirWatch> watch_;  // null while the inbox is missing
    dev_t watched_dev_ = 0;            // the directory the watch is on: if the inbox is
    ino_t watched_ino_ = 0;            // replaced by a new one, the old watch is dead
    bool watch_stale_ = false;         // an event about the directory itself: re-arm
    bool watch_failed_ = false;        // warned about it already
    bool remote_fs_ = false;           // NFS, SMB, FUSE...: other machines' writes bring no hints
    bool hinted_ = false;              // a change notice since the last scan
    bool present_ = true;
    Millis missing_backoff_{0};
    uint64_t last_scan_ns_ = 0;  // what the last scan took: scans for renamed-in files are spaced
                                 // by 5 times that, so a burst cannot take the loop over
    bool stopped_ = false;
    std::map<std::string, Entry> files_;
    std::set<std::string> moved_in_;  // renamed in, no write seen since: ready without settling
    // Reference images seen in the inbox: a manifest that may take one along waits while it is
    // still being written. Kept apart from files_ so a lone image never keeps `once` busy.
    std::map<std::string, Entry> images_;
};

}  // namespace vd
