#include "daemon/job_store.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <utility>

#include "daemon/finished_index.hpp"
#include "daemon/fsutil.hpp"

namespace vd {
namespace {

namespace stdfs = std::filesystem;
using fs::exists;

// Sequence numbers are reserved in batches so a burst of claims does not pay two extra fsyncs
// each; a crash only skips the unused rest of a batch.
constexpr uint64_t kSeqBatch = 64;
constexpr size_t kMaxRecordBytes = 64u << 20;
constexpr size_t kMaxLedgerBytes = 1u << 30;

std::string why(int err) {
    return std::strerror(err);
}

// A plain file name: no folders, nothing that walks out of the folder it is joined to.
bool plain_name(const std::string& name) {
    return !name.empty() && name != "." && name != ".." &&
           name.find_first_of(std::string("/\0", 2)) == std::string::npos;
}

// The manifest's stem, made safe for a file name (the name itself is validated later).
std::string id_stem(const std::string& filename) {
    auto dot = filename.find_last_of('.');
    std::string stem = (dot == std::string::npos || dot == 0) ? filename : filename.substr(0, dot);
    if (stem.size() > 100) stem.resize(100);
    for (char& c : stem)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-')
            c = '_';
    return stem.empty() ? "job" : stem;
}

}  // namespace

bool JobStore::claim_of(const std::string& id, const std::string& name) {
    auto dash = id.find('-');
    if (dash == std::string::npos) return false;
    auto tilde = id.rfind('~');
    std::string stem = id.substr(dash + 1, tilde == std::string::npos ? tilde : tilde - dash - 1);
    return stem == id_stem(name + ".json");
}

namespace {

// The number an id starts with ("42-cat" -> 42), 0 when there is none.
uint64_t seq_of(const std::string& id) {
    uint64_t n = 0;
    std::from_chars(id.data(), id.data() + id.size(), n);
    return n;
}

// Moves INBOX/name into DIR/name; 1 when moved, 0 when it was not in the inbox, -errno on failure.
int move_in(const std::string& inbox, const std::string& dir, const std::string& name) {
    if (exists(dir + "/" + name)) return 0;
    if (::rename((inbox + "/" + name).c_str(), (dir + "/" + name).c_str()) == 0) return 1;
    return errno == ENOENT ? 0 : -errno;
}

std::vector<std::string> list_dir(const std::string& dir) {
    std::vector<std::string> names;
    std::error_code ec;
    for (stdfs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
        names.push_back(it->path().filename());
    std::sort(names.begin(), names.end(), [](const std::string& a, const std::string& b) {
        return std::pair(seq_of(a), a) < std::pair(seq_of(b), b);
    });
    return names;
}

// A torn ledger line must not have the next entry glued to it: cut it off, unless it is a whole
// entry that only lost its newline (then keep it: counting a spend twice is safe, once too few
// not).
tl::expected<void, std::string> repair_ledger(const std::string& path) {
    if (!exists(path)) return {};
    auto text = fs::read_file(path, kMaxLedgerBytes);
    if (!text) return tl::unexpected(text.error());
    if (text->empty() || text->back() == '\n') return {};
    auto cut = text->find_last_of('\n');
    size_t keep = cut == std::string::npos ? 0 : cut + 1;
    bool whole = false;
    try {
        nlohmann::json::parse(text->substr(keep)).get<LedgerEntry>();
        whole = true;
    } catch (const std::exception&) {
    }
    int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return tl::unexpected("cannot repair " + path + ": " + why(errno));
    int rc = whole ? (::pwrite(fd, "\n", 1, text->size()) == 1 ? 0 : -1)
                   : ::ftruncate(fd, static_cast<off_t>(keep));
    if (rc == 0) rc = ::fsync(fd);
    int err = errno;
    ::close(fd);
    if (rc != 0)
        return tl::unexpected("cannot repair the torn last line of " + path + ": " + why(err));
    return {};
}

}  // namespace

tl::expected<JobStore, std::string> JobStore::open(const std::string& state_dir) {
    // Private: records hold signed result URLs, and claims hold people's inputs.
    for (const auto& d : {state_dir, state_dir + "/jobs", state_dir + "/claimed"})
        if (auto r = fs::private_dir(d); !r) return tl::unexpected(r.error());
    const std::string lock_path = state_dir + "/lock";
    int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) return tl::unexpected("cannot open " + lock_path + ": " + why(errno));
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int err = errno;
        char buf[32] = {};
        ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
        ::close(fd);
        if (err != EWOULDBLOCK) return tl::unexpected("cannot lock " + lock_path + ": " + why(err));
        std::string pid = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
        while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' '))
            pid.pop_back();
        return tl::unexpected("another videodrop is using " + state_dir + " (pid " +
                              (pid.empty() ? "unknown" : pid) +
                              "); stop it, or give this one its own [paths] state");
    }
    const std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) < 0) {
        int err = errno;
        ::close(fd);
        return tl::unexpected("cannot write " + lock_path + ": " + why(err));
    }
    JobStore store(state_dir, fd);
    if (auto r = store.recover(); !r) return tl::unexpected(r.error());
    return store;
}

JobStore::JobStore(JobStore&& other) noexcept
    : dir_(std::move(other.dir_)),
      lock_fd_(std::exchange(other.lock_fd_, -1)),
      next_seq_(other.next_seq_),
      reserved_(other.reserved_) {}

JobStore& JobStore::operator=(JobStore&& other) noexcept {
    if (this != &other) {
        if (lock_fd_ >= 0) ::close(lock_fd_);
        dir_ = std::move(other.dir_);
        lock_fd_ = std::exchange(other.lock_fd_, -1);
        next_seq_ = other.next_seq_;
        reserved_ = other.reserved_;
    }
    return *this;
}

JobStore::~JobStore() {
    if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
}

// Brings the folder back to a clean shape after a crash and finds where numbering resumes.
tl::expected<void, std::string> JobStore::recover() {
    uint64_t highest = 0;
    if (auto seq = fs::read_file(dir_ + "/seq", 64)) highest = seq_of(*seq);
    const std::string jobs = dir_ + "/jobs", claimed = dir_ + "/claimed";
    // Temporaries of an interrupted write_atomic (seq, limits.json, refetch notes).
    for (const std::string& d : {dir_, dir_ + "/refetch"})
        for (const auto& name : list_dir(d))
            if (name.ends_with(".tmp")) ::unlink((d + "/" + name).c_str());
    for (const auto& name : list_dir(jobs)) {
        highest = std::max(highest, seq_of(name));
        // Half-written records of an interrupted write_atomic.
        if (name.ends_with(".tmp")) ::unlink((jobs + "/" + name).c_str());
    }
    for (const auto& id : list_dir(claimed)) {
        highest = std::max(highest, seq_of(id));
        // A crash between creating a claim folder and the rename left it empty: the manifest is
        // still in the inbox and will be claimed again.
        if (!exists(record_path(id))) ::rmdir((claimed + "/" + id).c_str());
    }
    next_seq_ = highest + 1;
    reserved_ = highest;
    return repair_ledger(dir_ + "/" + kLedgerFile);
}

tl::expected<uint64_t, std::string> JobStore::next_seq() {
    if (next_seq_ > reserved_) {
        // Recorded before any id of the batch is used, so no id repeats after a crash.
        uint64_t upto = next_seq_ + kSeqBatch - 1;
        if (auto r = fs::write_atomic(dir_ + "/seq", std::to_string(upto) + "\n"); !r)
            return tl::unexpected(r.error());
        reserved_ = upto;
    }
    return next_seq_++;
}

std::string JobStore::record_path(const std::string& id) const {
    return dir_ + "/" + kJobsDir + "/" + id + ".json";
}

std::string JobStore::claimed_dir(const std::string& id) const {
    return dir_ + "/" + kClaimedDir + "/" + id;
}

tl::expected<Claim, ClaimError> JobStore::claim(const std::string& inbox_dir,
                                                const std::string& manifest_filename,
                                                const std::vector<std::string>& companions) {
    auto failed = [](std::string msg) {
        return tl::unexpected(ClaimError{ClaimError::Kind::failed, std::move(msg)});
    };
    if (!plain_name(manifest_filename))
        return failed("cannot claim '" + manifest_filename + "': not a plain file name");
    auto seq = next_seq();
    if (!seq) return failed(seq.error());

    Claim c;
    c.seq = *seq;
    // The random tag makes every name derived from the id (the claim folder, the download files
    // in outbox/.tmp) impossible to guess for someone who can write to the outbox.
    c.id = std::to_string(c.seq) + "-" + id_stem(manifest_filename) + "~" + fs::random_hex(4);
    c.dir = claimed_dir(c.id);
    c.manifest_path = c.dir + "/" + manifest_filename;
    if (::mkdir(c.dir.c_str(), 0700) != 0)
        return failed("cannot create " + c.dir + ": " + why(errno) + " (check permissions)");
    if (auto r = fs::fsync_dir(dir_ + "/claimed"); !r) return failed(r.error());

    const std::string source = inbox_dir + "/" + manifest_filename;
    if (::rename(source.c_str(), c.manifest_path.c_str()) != 0) {
        int err = errno;
        ::rmdir(c.dir.c_str());
        if (err == ENOENT)
            return tl::unexpected(ClaimError{ClaimError::Kind::taken, source + " is gone"});
        if (err == EXDEV)
            return failed("cannot claim " + source + ": the inbox and " + dir_ +
                          " must be on one filesystem (a claim is a rename)");
        return failed("cannot claim " + source + ": " + why(err));
    }
    // A companion that cannot be moved stays behind; validation then reports the missing image.
    for (const auto& name : companions)
        if (plain_name(name) && name != manifest_filename && move_in(inbox_dir, c.dir, name) > 0)
            c.companions.push_back(name);
    if (auto r = fs::fsync_dir(c.dir); !r) return failed(r.error());
    if (auto r = fs::fsync_dir(inbox_dir); !r) return failed(r.error());
    return c;
}

tl::expected<std::vector<std::string>, std::string> JobStore::adopt(
    const std::string& id, const std::string& inbox_dir, const std::vector<std::string>& files) {
    if (!plain_name(id)) return tl::unexpected("no claim named '" + id + "'");
    const std::string dir = claimed_dir(id);
    std::vector<std::string> moved;
    for (const auto& name : files) {
        if (!plain_name(name)) continue;
        int rc = move_in(inbox_dir, dir, name);
        if (rc < 0)
            return tl::unexpected("cannot move " + inbox_dir + "/" + name + " into " + dir + ": " +
                                  why(-rc));
        if (rc > 0) moved.push_back(name);
    }
    if (!moved.empty()) {
        if (auto r = fs::fsync_dir(dir); !r) return tl::unexpected(r.error());
        if (auto r = fs::fsync_dir(inbox_dir); !r) return tl::unexpected(r.error());
    }
    return moved;
}

tl::expected<void, std::string> JobStore::save(const Job& job) {
    if (!plain_name(job.id)) return tl::unexpected("cannot save a job with id '" + job.id + "'");
    nlohmann::json j = job;
    if (auto r = fs::write_atomic(record_path(job.id), j.dump() + "\n"); !r) return r;
    // A hint for `status`, not a record: when it cannot be written, status reads the record.
    (void)finished_index::append(dir_, job);
    return {};
}

JobStore::Records JobStore::load_all() {
    Records out;
    const std::string jobs = dir_ + "/jobs";
    const auto indexed = finished_index::read(dir_);
    for (const auto& name : list_dir(jobs)) {
        if (!name.ends_with(".json")) continue;
        const std::string path = jobs + "/" + name;
        std::string problem;
        try {
            auto text = fs::read_file(path, kMaxRecordBytes);
            if (!text) throw std::runtime_error(text.error());
            Job job = nlohmann::json::parse(*text).get<Job>();
            if (job.id + ".json" != name) throw std::runtime_error("it holds job '" + job.id + "'");
            if (is_terminal(job.state)) {  // an index lost or from before there was one
                auto it = indexed.find(job.id);
                if (it == indexed.end() || it->second.state != job.state)
                    (void)finished_index::append(dir_, job);
            }
            out.jobs.push_back(std::move(job));
            continue;
        } catch (const std::exception& e) {
            problem = e.what();
        }
        // Moved aside, not deleted: the user may want to look at it; the daemon carries on.
        auto moved = fs::rename_durable(path, path + ".corrupt");
        out.problems.push_back("job record " + path + " is unreadable (" + problem + "); " +
                               (moved ? "moved aside to " + path + ".corrupt"
                                      : "could not move it aside: " + moved.error()));
    }
    return out;
}

tl::expected<void, std::string> JobStore::remove_claim(const std::string& id) {
    if (!plain_name(id)) return tl::unexpected("no claim named '" + id + "'");
    std::error_code ec;
    stdfs::remove_all(claimed_dir(id), ec);
    if (ec) return tl::unexpected("cannot remove " + claimed_dir(id) + ": " + ec.message());
    return fs::fsync_dir(dir_ + "/claimed");
}

std::vector<std::string> JobStore::orphan_claims() const {
    std::vector<std::string> ids;
    for (const auto& id : list_dir(dir_ + "/claimed"))
        if (!exists(record_path(id))) ids.push_back(id);
    return ids;
}

tl::expected<void, std::string> JobStore::append_ledger(const LedgerEntry& e) {
    const std::string path = dir_ + "/" + kLedgerFile;
    const bool created = !exists(path);
    int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) return tl::unexpected("cannot open " + path + ": " + why(errno));
    (void)::fchmod(fd, 0600);  // whatever the umask, and for a ledger of an older version
    const std::string line = nlohmann::json(e).dump() + "\n";
    struct stat st {};
    ::fstat(fd, &st);
    size_t done = 0;
    int err = 0;
    while (done < line.size()) {
        ssize_t n = ::write(fd, line.data() + done, line.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            err = errno;
            // Cut a partial line off so the next append starts on a clean line.
            if (::ftruncate(fd, st.st_size) != 0) err = errno;
            break;
        }
        done += static_cast<size_t>(n);
    }
    if (err == 0 && ::fsync(fd) != 0) err = errno;
    ::close(fd);
    if (err != 0)
        return tl::unexpected("cannot append to " + path + ": " + why(err) +
                              " (check free space and permissions)");
    if (created) return fs::fsync_dir(dir_);
    return {};
}

tl::expected<std::vector<LedgerEntry>, std::string> JobStore::load_ledger() const {
    const std::string path = dir_ + "/" + kLedgerFile;
    std::vector<LedgerEntry> entries;
    if (!exists(path)) return entries;
    auto text = fs::read_file(path, kMaxLedgerBytes);
    if (!text) return tl::unexpected(text.error());
    size_t pos = 0, line_no = 0;
    while (pos < text->size()) {
        ++line_no;
        size_t end = text->find('\n', pos);
        const bool torn = end == std::string::npos;
        const std::string line = text->substr(pos, torn ? std::string::npos : end - pos);
        pos = torn ? text->size() : end + 1;
        if (line.empty()) continue;
        try {
            entries.push_back(nlohmann::json::parse(line).get<LedgerEntry>());
        } catch (const std::exception& e) {
            if (torn) break;  // a crash mid-append
            return tl::unexpected(path + " line " + std::to_string(line_no) +
                                  " is not a ledger entry (" + e.what() +
                                  "); fix or delete that line");
        }
    }
    return entries;
}

}  // namespace vd
