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

#include "gossipcluster/detail/linkage.hpp"
#include "gossipcluster/persisted_state.hpp"
#include "gossipcluster/storage/file_sync_calls.hpp"
#include "gossipcluster/storage/nodes_conf.hpp"
#include "gossipcluster/storage/storage_error.hpp"

namespace gossipcluster {

namespace detail {

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

}  // namespace detail

class FileStorage {
  public:
    static constexpr std::size_t kDefaultMaxBytes = std::size_t{64} << 20;

    // Locks `path` + ".lock" rather than the file itself: save() replaces the file by rename, so
    // a lock on the file would be lost with the old inode. Throws StorageError when another
    // FileStorage, in this process or another, holds the lock. `calls` replaces fsync and rename
    // (tests record their order); the default calls the system.
    explicit FileStorage(std::filesystem::path path, std::size_t max_bytes = kDefaultMaxBytes,
                         FileSyncCalls calls = {});

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
    std::optional<PersistedState> load();

    // Writes `path.tmp-<pid>`, fsyncs it, renames it over the file and, when `fsync` is true,
    // fsyncs the directory. The temporary file is synced whatever `fsync` says: the rename may
    // reach the disk before the data does, so renaming unsynced bytes over the durable file could
    // leave it empty or partial after a power loss. Without `fsync` only the rename may be lost:
    // after a power loss the file holds this state or an earlier one, each in full. With it, the
    // new state is on disk when save() returns.
    void save(const PersistedState& state, bool fsync);

  private:
    std::filesystem::path directory() const;
    // Temp files of this path can only come from a writer that died mid-save: we hold the lock.
    void remove_stale_temp_files() const;
    void sync_directory() const;
    std::optional<PersistedState> load_file() const;
    StorageError too_large() const;

    std::filesystem::path path_;
    std::size_t max_bytes_;
    FileSyncCalls calls_;
    detail::UniqueFd lock_fd_;
    bool load_failed_ = false;
};

}  // namespace gossipcluster

// The definitions: compiled once into the library (src/file_storage.cpp), or included here in
// header-only mode.
#ifdef GOSSIPCLUSTER_HEADER_ONLY
#include "gossipcluster/impl/file_storage.ipp"
#endif
