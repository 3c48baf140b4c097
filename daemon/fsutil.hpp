// Small file helpers of the shell: durable writes, moves and reads.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <chrono>
#include <string>
#include <string_view>

#include <tl/expected.hpp>

namespace vd::fs {

// The permissions a new file gets, set with fchmod/fchown after creation so the umask does not
// matter. State files are private (0600); files meant for people take their folder's.
struct FileMode {
    mode_t mode = 0600;
    gid_t group = static_cast<gid_t>(-1);  // -1: leave the group the kernel gave
};
// A published file in `dir`: the folder's read and write bits (a 0775 folder gives 0664 files,
// 0750 gives 0640) and the folder's group. Private when the folder cannot be read.
FileMode mode_for_folder(const std::string& dir);

// Creates `path` for writing, never through a symlink and never reusing a file: whatever sits at
// the name is removed first (unlink does not follow a symlink), then O_CREAT | O_EXCL |
// O_NOFOLLOW. A file planted between the two makes it fail rather than write elsewhere.
// Returns the open descriptor.
tl::expected<int, std::string> create_new(const std::string& path, FileMode mode = {});
// `n` random bytes as 2n hex digits (getrandom): for names nobody can predict.
std::string random_hex(size_t n);

// Writes `data` into a new file at `path` (create_new, then fsync); the name itself is not made
// durable: for a temporary that is renamed next. A file that fails half-written is removed.
tl::expected<void, std::string> write_new(const std::string& path, std::string_view data,
                                          FileMode mode = {});
// Writes `data` to `path` durably: a temporary PATH.<random>.tmp made by write_new, rename,
// fsync of the directory.
tl::expected<void, std::string> write_atomic(const std::string& path, std::string_view data,
                                             FileMode mode = {});
// rename(2) then fsync of both directories.
tl::expected<void, std::string> rename_durable(const std::string& from, const std::string& to);
tl::expected<std::string, std::string> read_file(const std::string& path, size_t max_bytes);
// Whether anything (a symlink included, not followed) is at `path`.
bool exists(const std::string& path);
// How long ago the file was last modified, by the wall clock; negative when its mtime is ahead.
std::chrono::milliseconds age_of(const struct stat& st);
tl::expected<void, std::string> fsync_dir(const std::string& dir);
// Creates the missing folders of `dir` with `mode`; existing ones are left as they are.
tl::expected<void, std::string> make_dirs(const std::string& dir, mode_t mode = 0755);
// `dir` as a folder only this user can enter: created 0700 if missing, chmod'ed to 0700 if it is
// ours; refused if it is a symlink, not a folder, or another user's (root takes one as it is).
tl::expected<void, std::string> private_dir(const std::string& dir);

}  // namespace vd::fs
