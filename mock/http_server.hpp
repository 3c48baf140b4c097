// An httplib::Server that runs its own per-connection loop. cpp-httplib gives handlers no access to
// the socket, and the mock must be able to drop an answer on purpose (a lost create, a reset), and
// to stop without waiting out idle keep-alive connections.
#pragma once

#include <atomic>

#include "mock/http_lib.hpp"

namespace vd::mock {

class Connection;

enum class Drop {
    none,
    close,  // FIN after what was written so far: curl says "Empty reply" or a partial file
    reset,  // RST (SO_LINGER 0): curl says "Connection reset by peer"
};

class HttpServer : public httplib::Server {
  public:
    // From inside a handler or content provider: the current connection writes nothing more and
    // ends after this request. Outside a connection thread it does nothing.
    static void drop_current(Drop how);
    // From inside a handler: whether the current request came on a keep-alive connection that
    // had already served another one.
    static bool current_is_reused();

  private:
    bool process_and_close_socket(socket_t sock) override;
    // Waits for the next request on a keep-alive connection; false when idle too long or stopping.
    bool wait_for_request(Connection& conn) const;
};

}  // namespace vd::mock
