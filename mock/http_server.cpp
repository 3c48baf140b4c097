#include "mock/http_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string>

namespace vd::mock {

// One accepted socket as an httplib::Stream; reads are buffered because httplib reads request
// lines a byte at a time.
class Connection final : public httplib::Stream {
  public:
    Connection(int fd, int read_timeout_ms, int write_timeout_ms)
        : fd_(fd), read_timeout_ms_(read_timeout_ms), write_timeout_ms_(write_timeout_ms) {
        remote_ = address(fd, true, remote_port_);
        local_ = address(fd, false, local_port_);
    }

    bool has_buffered() const { return pos_ < len_; }
    bool poll_readable(int timeout_ms) const { return has_buffered() || wait(POLLIN, timeout_ms); }

    bool is_readable() const override { return poll_readable(read_timeout_ms_); }
    bool is_writable() const override {
        return drop == Drop::none && wait(POLLOUT, write_timeout_ms_);
    }

    ssize_t read(char* ptr, size_t size) override {
        if (!has_buffered()) {
            if (!is_readable()) return -1;
            ssize_t n = ::recv(fd_, buf_, sizeof buf_, 0);
            if (n <= 0) return n;
            pos_ = 0;
            len_ = static_cast<size_t>(n);
        }
        size_t n = std::min(size, len_ - pos_);
        std::memcpy(ptr, buf_ + pos_, n);
        pos_ += n;
        return static_cast<ssize_t>(n);
    }

    ssize_t write(const char* ptr, size_t size) override {
        if (!is_writable()) return -1;
        return ::send(fd_, ptr, size, MSG_NOSIGNAL);
    }

    void get_remote_ip_and_port(std::string& ip, int& port) const override {
        ip = remote_;
        port = remote_port_;
    }
    void get_local_ip_and_port(std::string& ip, int& port) const override {
        ip = local_;
        port = local_port_;
    }
    socket_t socket() const override { return fd_; }

    Drop drop = Drop::none;
    int served = 0;  // requests answered on this connection before the current one

  private:
    bool wait(short events, int timeout_ms) const {
        pollfd p{fd_, events, 0};
        int r;
        do {
            r = ::poll(&p, 1, timeout_ms);
        } while (r < 0 && errno == EINTR);
        return r > 0 && (p.revents & (events | POLLHUP | POLLERR));
    }

    static std::string address(int fd, bool peer, int& port) {
        sockaddr_storage ss{};
        socklen_t len = sizeof ss;
        auto* sa = reinterpret_cast<sockaddr*>(&ss);
        if ((peer ? ::getpeername(fd, sa, &len) : ::getsockname(fd, sa, &len)) != 0) return {};
        char text[INET6_ADDRSTRLEN] = {};
        if (ss.ss_family == AF_INET) {
            auto* in = reinterpret_cast<sockaddr_in*>(&ss);
            ::inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
            port = ntohs(in->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            auto* in = reinterpret_cast<sockaddr_in6*>(&ss);
            ::inet_ntop(AF_INET6, &in->sin6_addr, text, sizeof text);
            port = ntohs(in->sin6_port);
        }
        return text;
    }

    int fd_;
    int read_timeout_ms_, write_timeout_ms_;
    std::string remote_, local_;
    int remote_port_ = -1, local_port_ = -1;
    char buf_[4096];
    size_t pos_ = 0, len_ = 0;
};

namespace {
thread_local Connection* t_connection = nullptr;

int to_ms(time_t sec, time_t usec) {
    return static_cast<int>(sec * 1000 + usec / 1000);
}
}  // namespace

void HttpServer::drop_current(Drop how) {
    if (t_connection) t_connection->drop = how;
}

bool HttpServer::current_is_reused() {
    return t_connection && t_connection->served > 0;
}

bool HttpServer::wait_for_request(Connection& conn) const {
    // Short slices so that stop() (which invalidates svr_sock_) is noticed quickly.
    auto deadline =
        std::chrono::steady_clock::now() + std::chrono::seconds(keep_alive_timeout_sec_);
    while (svr_sock_ != INVALID_SOCKET) {
        if (conn.poll_readable(20)) return true;
        if (std::chrono::steady_clock::now() >= deadline) return false;
    }
    return false;
}

bool HttpServer::process_and_close_socket(socket_t sock) {
    // httplib sends headers and body in two writes; with Nagle on, the body waits for the
    // client's delayed ACK (40 ms a request).
    int one = 1;
    ::setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    Connection conn(sock, to_ms(read_timeout_sec_, read_timeout_usec_),
                    to_ms(write_timeout_sec_, write_timeout_usec_));
    t_connection = &conn;
    bool ok = false;
    for (size_t left = keep_alive_max_count_; left > 0 && wait_for_request(conn); --left) {
        bool closed = false;
        ok = process_request(conn, left == 1, closed, [](httplib::Request&) {});
        ++conn.served;
        if (!ok || closed || conn.drop != Drop::none) break;
    }
    t_connection = nullptr;
    if (conn.drop == Drop::reset) {
        linger lg{1, 0};
        ::setsockopt(sock, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    } else {
        ::shutdown(sock, SHUT_WR);
    }
    ::close(sock);
    return ok;
}

}  // namespace vd::mock
