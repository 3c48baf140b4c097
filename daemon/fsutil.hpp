// Small file helpers of the shell: durable writes, moves and reads.
#pragma once

#include <string>
#include <string_view>

#include <tl/expected.hpp>

namespace vd::fs {

// Writes `data` to `path` durably: PATH.tmp, fsync, rename, fsync of the directory.
tl::expected<void, std::string> write_atomic(const std::string& path, std::string_view data);
// rename(2) then fsync of both directories.
tl::expected<void, std::string> rename_durable(const std::string& from, const std::string& to);
tl::expected<std::string, std::string> read_file(const std::string& path, size_t max_bytes);
tl::expected<void, std::string> fsync_dir(const std::string& dir);
tl::expected<void, std::string> make_dirs(const std::string& dir);

}  // namespace vd::fs
