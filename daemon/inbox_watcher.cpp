#include "daemon/inbox_watcher.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>
#include <mutex>
#include <vector>

#include <spdlog/spdlog.h>

#include "daemon/fsutil.hpp"

namespace vd {

namespace {

int64_t mtime_ns(const struct stat& st) {
    return static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
}

template <typename Handle>
void close_and_free(Handle* h) {
    uv_close(reinterpret_cast<uv_handle_t*>(h),
             [](uv_handle_t* raw) { delete reinterpret_cast<Handle*>(raw); });
}

// Whether another process holds the file open for writing: a read lease is refused (EAGAIN)
// exactly then. Taking one needs the file's owner or CAP_LEASE; otherwise nullopt (cannot tell).
std::optional<bool> open_for_writing(int dir_fd, const char* name) {
    // A writer opening the file in the instant the lease is held breaks it, and the kernel then
    // sends SIGIO, whose default action ends the process: ignored, as nothing here uses it.
    static std::once_flag once;
    std::call_once(once, [] { ::signal(SIGIO, SIG_IGN); });
    int fd = ::openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return std::nullopt;
    std::optional<bool> result;
    struct stat st;
    if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
        if (::fcntl(fd, F_SETLEASE, F_RDLCK) == 0) {
            ::fcntl(fd, F_SETLEASE, F_UNLCK);
            result = false;
        } else if (errno == EAGAIN) {
            result = true;
        }
    }
    ::close(fd);
    return result;
}

struct Report {
    std::string name;
    int64_t mtime_ns = 0;
    bool ready = false;
    std::string reason;
};

}  // namespace

InboxWatcher::InboxWatcher(uv_loop_t* loop, std::string dir, InboxOptions options,
                           InboxCallbacks callbacks)
    : loop_(loop), dir_(std::move(dir)), options_(options), callbacks_(std::move(callbacks)) {
    timer_ = new uv_timer_t;
    uv_timer_init(loop_, timer_);
    timer_->data = this;
}

InboxWatcher::~InboxWatcher() {
    stop();
}

void InboxWatcher::start() {
    if (stopped_) return;
    struct stat st;
    if (::stat(dir_.c_str(), &st) == 0) arm_watch(st);
    schedule_scan(Millis{0});
}

void InboxWatcher::forget(const std::string& name, std::optional<Millis> look_again) {
    moved_in_.erase(name);
    if (look_again)
        files_[name] = Entry{};  // no inode: judged as a new file, and tracked (`once` waits)
    else
        files_.erase(name);
    // Judged afresh then, if no change notice comes first.
    schedule_scan(std::min(options_.rescan, look_again.value_or(options_.rescan)));
}

void InboxWatcher::stop() {
    if (stopped_) return;
    stopped_ = true;
    disarm_watch();
    uv_timer_stop(timer_);
    close_and_free(timer_);
    timer_ = nullptr;
}

// A filesystem whose files other machines may write: inotify sees only this machine's writes.
bool InboxWatcher::is_remote_fs(const std::string& dir) {
    struct statfs st;
    if (::statfs(dir.c_str(), &st) != 0) return true;  // unknown: keep rescanning
    switch (static_cast<unsigned long>(st.f_type)) {
        case 0x6969:      // NFS
        case 0xFF534D42:  // CIFS
        case 0xFE534D42:  // SMB2
        case 0x517B:      // SMB
        case 0x65735546:  // FUSE (sshfs, s3fs, ...)
        case 0x01021997:  // 9p (v9fs)
        case 0x6B414653:  // AFS
        case 0x47504653:  // GPFS
        case 0x00C36400:  // CephFS
        case 0x0BD00BD0:  // Lustre
            return true;
        default:
            return false;
    }
}

void InboxWatcher::schedule_scan(Millis delay) {
    if (stopped_) return;
    // At least 1 ms: a 0 ms timer can busy-loop in libuv 1.44.
    uint64_t ms = static_cast<uint64_t>(std::max<int64_t>(1, delay.count()));
    if (uv_is_active(reinterpret_cast<uv_handle_t*>(timer_)) && uv_timer_get_due_in(timer_) <= ms)
        return;  // an earlier scan is already due; a burst of hints must not keep pushing it back
    uv_timer_start(timer_, &InboxWatcher::on_timer, ms, 0);
}

void InboxWatcher::on_timer(uv_timer_t* timer) {
    static_cast<InboxWatcher*>(timer->data)->scan_now();
}

void InboxWatcher::on_event(const DirEvent& e) {
    if (e.about_dir) watch_stale_ = true;  // deleted or moved: a new inbox needs a new watch
    if (e.overflow) moved_in_.clear();     // unknown now: those files settle like any other
    if (e.moved_in) moved_in_.insert(e.name);
    if (e.written) moved_in_.erase(e.name);
    if (e.left && !e.moved_in && !e.written) {
        // Nothing becomes ready when a file leaves (most often it is a claim): it is forgotten
        // without a scan, which a big inbox would make costly for each claim.
        moved_in_.erase(e.name);
        files_.erase(e.name);
        images_.erase(e.name);
        return;
    }
    hinted_ = true;
    if (!e.moved_in) {
        schedule_scan(options_.debounce);
        return;
    }
    // A file renamed in is complete: looked at in the next loop turn, unless scans are costly
    // (a big inbox), when they are spaced to take at most a fifth of the time.
    const auto share = Millis{static_cast<int64_t>(last_scan_ns_ * 5 / 1'000'000)};
    schedule_scan(std::clamp(share, Millis{1}, options_.debounce));
}

void InboxWatcher::arm_watch(const struct stat& dir_stat) {
    if (watch_ && dir_stat.st_dev == watched_dev_ && dir_stat.st_ino == watched_ino_) return;
    disarm_watch();  // the inbox was replaced: inotify watches the old, deleted directory
    int err = 0;
    watch_ = DirWatch::open(
        loop_, dir_, [this](const DirEvent& e) { on_event(e); }, &err);
    if (!watch_) {
        // Scans every `rescan` still find everything; only the quick reaction is lost.
        if (!watch_failed_)
            spdlog::warn("inbox {}: cannot watch ({}); relying on rescans", dir_, uv_strerror(err));
        watch_failed_ = true;
        return;
    }
    watch_failed_ = false;
    remote_fs_ = is_remote_fs(dir_);
    watched_dev_ = dir_stat.st_dev;
    watched_ino_ = dir_stat.st_ino;
}

void InboxWatcher::disarm_watch() {
    watch_.reset();
    moved_in_.clear();  // the events that filled it came from the old watch
}

void InboxWatcher::scan_now() {
    if (stopped_) return;
    // decide() only compares times it was given, so the loop's monotonic clock serves.
    uv_update_time(loop_);
    const TimePoint now = from_ms(static_cast<int64_t>(uv_now(loop_)));
    const uint64_t started_ns = uv_hrtime();

    DIR* dir = ::opendir(dir_.c_str());
    if (!dir) {
        if (present_)
            spdlog::warn("inbox {}: cannot open ({}); looking again", dir_, std::strerror(errno));
        present_ = false;
        disarm_watch();
        files_.clear();
        missing_backoff_ =
            std::min(options_.rescan, std::max(options_.debounce, missing_backoff_ * 2));
        schedule_scan(missing_backoff_);
        return;
    }
    if (watch_stale_) disarm_watch();
    watch_stale_ = false;
    struct stat dir_stat;
    if (::fstat(::dirfd(dir), &dir_stat) == 0) arm_watch(dir_stat);
    if (!present_) spdlog::info("inbox {}: back", dir_);
    present_ = true;
    missing_backoff_ = Millis{0};

    std::map<std::string, Entry> next;
    std::map<std::string, Entry> next_images;
    std::vector<std::string> settling_images;
    std::vector<Report> reports;
    std::optional<TimePoint> recheck;
    while (const dirent* e = ::readdir(dir)) {
        std::string name = e->d_name;
        if (name == "." || name == "..") continue;
        struct stat st;
        if (::fstatat(::dirfd(dir), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;  // gone

        Entry entry;
        if (auto old = files_.find(name); old != files_.end() && old->second.ino == st.st_ino)
            entry = old->second;  // a different inode is a new file under an old name
        entry.ino = st.st_ino;
        if (entry.reported) {
            next.emplace(name, entry);
            continue;
        }
        intake::FileObservation obs;
        obs.name = name;
        obs.size = st.st_size;
        obs.mtime_ns = mtime_ns(st);
        obs.regular = S_ISREG(st.st_mode);
        obs.symlink = S_ISLNK(st.st_mode);
        // Asked only of files that could be taken: manifests, and images they may bring along.
        if (S_ISREG(st.st_mode) && name.front() != '.' &&
            (intake::is_manifest_name(name) || intake::is_image_name(name))) {
            obs.age = fs::age_of(st);
            obs.open_for_writing = open_for_writing(::dirfd(dir), e->d_name);
            obs.renamed_in = moved_in_.count(name) > 0;
        }
        if (name.front() != '.' && intake::is_image_name(name) && S_ISREG(st.st_mode)) {
            Entry image;
            if (auto old = images_.find(name); old != images_.end() && old->second.ino == st.st_ino)
                image = old->second;
            image.ino = st.st_ino;
            auto state = intake::settle_state(obs, image.seen, now, options_.settle);
            image.seen = state.remember;
            if (state.still_settling) {
                settling_images.push_back(name);
                if (!recheck || state.settled_at < *recheck) recheck = state.settled_at;
            }
            next_images.emplace(name, image);
            continue;
        }
        auto d = intake::decide(obs, entry.seen, now, options_.settle, options_.max_manifest_bytes);
        switch (d.readiness) {
            case intake::Readiness::ignore:
                continue;
            case intake::Readiness::wait:
                if (d.recheck_at && (!recheck || *d.recheck_at < *recheck)) recheck = d.recheck_at;
                break;
            case intake::Readiness::ready:
            case intake::Readiness::reject:
                entry.reported = true;
                reports.push_back(
                    {name, obs.mtime_ns, d.readiness == intake::Readiness::ready, d.reason});
                break;
        }
        entry.seen = d.remember;
        next.emplace(name, entry);
    }
    ::closedir(dir);
    // A ready manifest waits for an image it may take along that is still being written (a .txt
    // whose image arrives a moment later, a manifest copied in before its image is complete).
    std::erase_if(reports, [&](const Report& r) {
        if (!r.ready) return false;
        for (const auto& image : settling_images) {
            if (!intake::may_take_image(r.name, image)) continue;
            spdlog::debug("inbox {}: {} waits for {} to settle", dir_, r.name, image);
            next[r.name].reported = false;
            return true;
        }
        return false;
    });
    files_ = std::move(next);  // what is no longer in the inbox was claimed: forget it
    images_ = std::move(next_images);
    std::erase_if(moved_in_, [&](const std::string& name) {
        auto f = files_.find(name);
        return f != files_.end() ? f->second.reported : !images_.count(name);
    });
    last_scan_ns_ = uv_hrtime() - started_ns;

    // Change notices bring every change on a local filesystem; the kernel drops them only when
    // its queue overflows, which takes a burst of hints. So a full rescan follows any scan that
    // had hints or found something, until one finds nothing new; an idle inbox is not scanned
    // (nothing wakes the daemon). Without a watch, or where other machines write (a network
    // filesystem), rescans go on forever.
    const bool rescan = !watch_ || remote_fs_ || hinted_ || !reports.empty();
    hinted_ = false;
    if (recheck || rescan) {
        Millis delay = rescan ? options_.rescan : Millis::max();
        if (recheck) delay = std::min(delay, std::chrono::duration_cast<Millis>(*recheck - now));
        schedule_scan(delay);
    }

    // Oldest first, so jobs start in the order they arrived.
    std::sort(reports.begin(), reports.end(), [](const Report& a, const Report& b) {
        return a.mtime_ns != b.mtime_ns ? a.mtime_ns < b.mtime_ns : a.name < b.name;
    });
    for (const auto& r : reports) {
        if (stopped_) return;
        try {
            if (r.ready) {
                spdlog::debug("inbox {}: {} is ready", dir_, r.name);
                if (callbacks_.on_ready) callbacks_.on_ready(r.name);
            } else {
                spdlog::info("inbox {}: rejecting {}: {}", dir_, r.name, r.reason);
                if (callbacks_.on_reject) callbacks_.on_reject(r.name, r.reason);
            }
        } catch (const std::exception& ex) {
            spdlog::error("inbox {}: callback for {} threw: {}", dir_, r.name, ex.what());
        }
    }
}

}  // namespace vd
