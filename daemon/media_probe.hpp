// Reads what a downloaded MP4 holds (libavformat): open, stream headers, one demux pass, sha256,
// and with `decode` every packet decoded (media_decode.hpp). See architecture.md, "Checking an
// MP4".
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include <uv.h>

#include "daemon/bounded_pool.hpp"

#include "pipeline/verdict.hpp"

namespace vd {

// Synchronous; takes a few ms plus the hash (plus the decode, when asked). Never throws: failures
// are recorded in the MediaInfo. Without `decode`, a file whose sample data is wrecked but whose
// packets are all present passes.
MediaInfo probe_mp4(const std::string& path, bool decode = false);

// Runs probe_mp4 on the libuv threadpool; `done` runs on the loop thread.
void probe_async(uv_loop_t* loop, std::string path, bool decode,
                 std::function<void(MediaInfo)> done);

// Keeps at most `max_parallel` probes on the threadpool so they don't starve libuv's fs requests;
// the rest wait in a queue. Loop thread only.
// On shutdown() or destruction, queued probes are dropped and no `done` is called again; running
// probes still finish on the threadpool, so run the loop until idle before closing it.
class MediaProber {
  public:
    explicit MediaProber(uv_loop_t* loop, int max_parallel = 2);
    MediaProber(const MediaProber&) = delete;
    MediaProber& operator=(const MediaProber&) = delete;

    // Dropped after shutdown().
    void probe(std::string path, bool decode, std::function<void(MediaInfo)> done);
    // Other media work (a join, a frame) in the same bounded pool: `work` returns an error in
    // words, empty when it succeeded; `done` gets it on the loop thread.
    void run(std::function<std::string()> work, std::function<void(std::string)> done);
    size_t pending() const;  // queued + running
    size_t running() const;
    void shutdown();

  private:
    BoundedPool pool_;
};

}  // namespace vd
