// File storage policy: nodes.conf on disk, locked for the object's lifetime, replaced atomically.
#pragma once

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include <fmt/format.h>

#include "gossipcluster/persisted_state.hpp"
#include "gossipcluster/storage/file_sync_calls.hpp"
#include "gossipcluster/storage/nodes_conf.hpp"
#include "gossipcluster/storage/storage_error.hpp"

namespace gossipcluster {

namespace detail {

inline std::string errno_text(int err) {
    return std::generic_category().message(err);
}

class UniqueFd {
  public:
    UniqueFd() = default;
    explicit UniqueFd(int fd) : fd_(fd) {}
    UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    UniqueFd& operator=(UniqueFd&& other) noexcept {
        if (this != &other) {
            reset();
            fd_ = std::exchange(other.fd_, -1);
        }
        return *this;
    }
    UniqueFd(const UniqueFd&) = delete;
    UniqueFd& operator=(const UniqueFd&) = delete;
    ~UniqueFd() { reset(); }

    int get() const { return fd_; }
    explicit operator bool() const { return fd_ >= 0; }
    void reset() {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }
    // Closes and reports the result: on some file systems close() is where a write error shows.
    int close() { return ::close(std::exchange(fd_, -1)); }

  private:
    int fd_ = -1;
};

inline int open_retry(const char* path, int flags, mode_t mode = 0) {
    int fd;
    do {
        fd = ::open(path, flags, mode);
    } while (fd < 0 && errno == EINTR);
    return fd;
}

inline bool write_all(int fd, std::string_view data) {
    while (!data.empty()) {
        ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

inline int fsync_retry(const FileSyncCalls& calls, int fd) {
    int rc;
    do {
        rc = calls.fsync(fd);
    } while (rc != 0 && errno == EINTR);
    return rc;
}

}  // namespace detail

class FileStorage {
  public:
    static constexpr std::size_t kDefaultMaxBytes = std::size_t{64} << 20;

    // Locks `path` + ".lock" rather than the file itself: save() replaces the file by rename, so
    // a lock on the file would be lost with the old inode. Throws StorageError when another
    // FileStorage, in this process or another, holds the lock. `calls` replaces fsync and rename
    // (tests record their order); the default calls the system.
    explicit FileStorage(std::filesystem::path path, std::size_t max_bytes = kDefaultMaxBytes,
                         FileSyncCalls calls = {})
        : path_(std::move(path)), max_bytes_(max_bytes), calls_(calls) {
        std::filesystem::path lock_path = path_;
        lock_path += ".lock";
        detail::UniqueFd fd(
            detail::open_retry(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
        if (!fd) {
            int err = errno;
            throw StorageError(fmt::format("cannot open lock file {} for cluster config {}: {}",
                                           lock_path.string(), path_.string(),
                                           detail::errno_text(err)));
        }
        int rc;
        do {
            rc = ::flock(fd.get(), LOCK_EX | LOCK_NB);
        } while (rc != 0 && errno == EINTR);
        if (rc != 0) {
            int err = errno;
            if (err == EWOULDBLOCK)
                throw StorageError(fmt::format(
                    "cluster config file {} is in use by another process or storage object "
                    "(lock {} is held)",
                    path_.string(), lock_path.string()));
            throw StorageError(
                fmt::format("cannot lock {}: {}", lock_path.string(), detail::errno_text(err)));
        }
        lock_fd_ = std::move(fd);
        remove_stale_temp_files();
    }

    FileStorage(FileStorage&&) noexcept = default;
    FileStorage& operator=(FileStorage&&) noexcept = default;
    FileStorage(const FileStorage&) = delete;
    FileStorage& operator=(const FileStorage&) = delete;
    ~FileStorage() = default;  // closing the lock descriptor releases the lock

    const std::filesystem::path& path() const { return path_; }

    // nullopt for a missing file (a fresh node). Throws StorageError for an unreadable, oversized,
    // empty or corrupt file: save() never leaves an empty or partial file, so one means that
    // something else damaged it, and starting as a fresh node would give this node a new name
    // and forget its votes. save() then refuses to run until a later load() succeeds, so a file
    // an operator may still want to repair is never overwritten.
    std::optional<PersistedState> load() {
        load_failed_ = true;
        auto state = load_file();
        load_failed_ = false;
        return state;
    }

    // Writes `path.tmp-<pid>`, fsyncs it, renames it over the file and, when `fsync` is true,
    // fsyncs the directory. The temporary file is synced whatever `fsync` says: the rename may
    // reach the disk before the data does, so renaming unsynced bytes over the durable file could
    // leave it empty or partial after a power loss. Without `fsync` only the rename may be lost:
    // after a power loss the file holds this state or an earlier one, each in full. With it, the
    // new state is on disk when save() returns.
    void save(const PersistedState& state, bool fsync) {
        if (load_failed_)
            throw StorageError(
                fmt::format("refusing to overwrite cluster config file {}: the last "
                            "load failed; repair or remove the file first",
                            path_.string()));
        std::string text = render_nodes_conf(state);
        // A file that cannot be loaded back would stop the next start, so never write one.
        if (auto check = parse_nodes_conf(text); !check.ok())
            throw StorageError(
                fmt::format("refusing to save {}: the state would not load back ({})",
                            path_.string(), check.error->describe()));

        std::filesystem::path tmp = path_;
        tmp += fmt::format(".tmp-{}", ::getpid());
        detail::UniqueFd fd(
            detail::open_retry(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
        if (!fd) {
            int err = errno;
            throw StorageError(
                fmt::format("cannot create {}: {}", tmp.string(), detail::errno_text(err)));
        }
        auto fail = [&](std::string_view what, int err) {
            ::unlink(tmp.c_str());
            return StorageError(fmt::format("cannot {} {} (saving {}): {}", what, tmp.string(),
                                            path_.string(), detail::errno_text(err)));
        };
        if (!detail::write_all(fd.get(), text)) throw fail("write", errno);
        if (detail::fsync_retry(calls_, fd.get()) != 0) throw fail("fsync", errno);
        if (fd.close() != 0) throw fail("close", errno);
        if (calls_.rename(tmp.c_str(), path_.c_str()) != 0) throw fail("rename", errno);
        if (fsync) sync_directory();
    }

  private:
    std::filesystem::path directory() const {
        auto dir = path_.parent_path();
        return dir.empty() ? std::filesystem::path(".") : dir;
    }

    // Temp files of this path can only come from a writer that died mid-save: we hold the lock.
    void remove_stale_temp_files() const {
        std::string prefix = path_.filename().string() + ".tmp-";
        std::error_code ec;
        for (std::filesystem::directory_iterator it(directory(), ec), end; !ec && it != end;
             it.increment(ec)) {
            std::string name = it->path().filename().string();
            if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0)
                continue;
            std::string_view pid = std::string_view(name).substr(prefix.size());
            if (!detail::parse_u64(pid)) continue;
            std::error_code ignored;
            std::filesystem::remove(it->path(), ignored);
        }
    }

    void sync_directory() const {
        auto dir = directory();
        detail::UniqueFd fd(detail::open_retry(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        // EINVAL: the file system cannot sync directories; nothing more can be done there.
        if (!fd || (detail::fsync_retry(calls_, fd.get()) != 0 && errno != EINVAL)) {
            int err = errno;
            throw StorageError(fmt::format("cannot fsync directory {} after saving {}: {}",
                                           dir.string(), path_.string(), detail::errno_text(err)));
        }
    }

    std::optional<PersistedState> load_file() const {
        detail::UniqueFd fd(detail::open_retry(path_.c_str(), O_RDONLY | O_CLOEXEC));
        if (!fd) {
            int err = errno;
            if (err == ENOENT) return std::nullopt;
            throw StorageError(fmt::format("cannot open cluster config file {}: {}", path_.string(),
                                           detail::errno_text(err)));
        }
        struct stat st {};
        if (::fstat(fd.get(), &st) != 0) {
            int err = errno;
            throw StorageError(fmt::format("cannot stat cluster config file {}: {}", path_.string(),
                                           detail::errno_text(err)));
        }
        if (!S_ISREG(st.st_mode))
            throw StorageError(
                fmt::format("cluster config file {} is not a regular file", path_.string()));
        if (static_cast<std::uint64_t>(st.st_size) > max_bytes_) throw too_large();

        // Read to EOF rather than trusting st_size: the limit must hold even if the file grows.
        std::string text;
        char buf[65536];
        while (true) {
            ssize_t n = ::read(fd.get(), buf, sizeof buf);
            if (n < 0) {
                if (errno == EINTR) continue;
                int err = errno;
                throw StorageError(fmt::format("cannot read cluster config file {}: {}",
                                               path_.string(), detail::errno_text(err)));
            }
            if (n == 0) break;
            if (text.size() + static_cast<std::size_t>(n) > max_bytes_) throw too_large();
            text.append(buf, static_cast<std::size_t>(n));
        }
        if (text.empty())
            throw StorageError(fmt::format(
                "cluster config file {} is empty; it was damaged (a fresh node has no file): "
                "restore it, or remove it to start as a new node",
                path_.string()));

        auto result = parse_nodes_conf(text);
        if (!result.ok())
            throw StorageError(fmt::format("corrupt cluster config file {}: line {}: {}",
                                           path_.string(), result.error->line,
                                           result.error->reason));
        return std::move(result.state);
    }

    StorageError too_large() const {
        return StorageError(
            fmt::format("cluster config file {} is larger than the limit of {} bytes",
                        path_.string(), max_bytes_));
    }

    std::filesystem::path path_;
    std::size_t max_bytes_;
    FileSyncCalls calls_;
    detail::UniqueFd lock_fd_;
    bool load_failed_ = false;
};

}  // namespace gossipcluster
