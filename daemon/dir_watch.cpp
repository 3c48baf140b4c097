#include "daemon/dir_watch.hpp"

#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace vd {

struct DirWatch::Handle {
    uv_poll_t poll;  // first: the close callback gets it back as the handle
    int fd = -1;
    Callback callback;
};

namespace {

constexpr uint32_t kMask = IN_CREATE | IN_MODIFY | IN_CLOSE_WRITE | IN_ATTRIB | IN_MOVED_TO |
                           IN_MOVED_FROM | IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR;

// `name` follows the event in the buffer, NUL-padded to e.len bytes.
DirEvent event_of(const inotify_event& e, const char* name) {
    DirEvent d;
    if (e.mask & IN_Q_OVERFLOW) {
        d.overflow = true;
        return d;
    }
    if (e.mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT)) {
        d.about_dir = true;
        return d;
    }
    if (e.len > 0) d.name = name;
    d.moved_in = (e.mask & IN_MOVED_TO) != 0;
    d.written = (e.mask & (IN_CREATE | IN_MODIFY | IN_CLOSE_WRITE)) != 0;
    d.left = (e.mask & (IN_MOVED_FROM | IN_DELETE)) != 0;
    return d;
}

}  // namespace

std::unique_ptr<DirWatch> DirWatch::open(uv_loop_t* loop, const std::string& dir, Callback callback,
                                         int* error) {
    int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd < 0 || ::inotify_add_watch(fd, dir.c_str(), kMask) < 0) {
        *error = -errno;
        if (fd >= 0) ::close(fd);
        return nullptr;
    }
    auto* h = new Handle;
    h->fd = fd;
    h->callback = std::move(callback);
    if (int rc = uv_poll_init(loop, &h->poll, fd); rc < 0) {
        *error = rc;
        ::close(fd);
        delete h;
        return nullptr;
    }
    h->poll.data = h;
    uv_poll_start(&h->poll, UV_READABLE, &DirWatch::on_readable);
    return std::unique_ptr<DirWatch>(new DirWatch(h));
}

DirWatch::~DirWatch() {
    uv_poll_stop(&handle_->poll);
    uv_close(reinterpret_cast<uv_handle_t*>(&handle_->poll), [](uv_handle_t* raw) {
        auto* h = reinterpret_cast<Handle*>(raw);
        ::close(h->fd);
        delete h;
    });
}

void DirWatch::on_readable(uv_poll_t* poll, int status, int) {
    auto* h = static_cast<Handle*>(poll->data);
    if (status < 0) {
        DirEvent d;
        d.overflow = true;  // cannot read: let a listing decide
        h->callback(d);
        return;
    }
    // Aligned for inotify_event; room for many events per read.
    alignas(inotify_event) char buf[64 * 1024];
    std::vector<DirEvent> events;
    for (;;) {
        ssize_t n = ::read(h->fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;  // EAGAIN: all read
        for (ssize_t off = 0; off < n;) {
            inotify_event e;
            std::memcpy(&e, buf + off, sizeof e);
            events.push_back(event_of(e, buf + off + sizeof e));
            off += static_cast<ssize_t>(sizeof e + e.len);
        }
    }
    for (const auto& d : events)
        h->callback(d);
}

}  // namespace vd
