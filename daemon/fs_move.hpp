// Moving files without ever replacing one, durably, within a filesystem or across two. The
// daemon's publishing and failing and the management commands all move files through these.
#pragma once

#include <string>

#include <tl/expected.hpp>

#include "daemon/fsutil.hpp"

namespace vd::fs {

// rename(2) that fails with EEXIST instead of replacing. Returns 0 or an errno.
int rename_noreplace(const std::string& from, const std::string& to);

// Copies a file (a symlink as a symlink) to `staging`, made by create_new with `mode`, and
// fsyncs it; streamed, so a 2 GB input costs no memory.
tl::expected<void, std::string> copy_durable(const std::string& from, const std::string& staging,
                                             FileMode mode = {});

struct MoveError {
    int err = 0;  // EEXIST: `to` exists and was left alone
    std::string message;
};
// Moves `from` to `to` without replacing anything; across filesystems it copies to `staging` (a
// name beside `to`), renames that into place and removes the source.
tl::expected<void, MoveError> move_noreplace(const std::string& from, const std::string& to,
                                             const std::string& staging, FileMode mode = {});

}  // namespace vd::fs
