// Definitions of FileStorage and its file helpers (src/file_storage.cpp, or file_storage.hpp in
// header-only mode).
#pragma once

#include "gossipcluster/storage/file_storage.hpp"

namespace gossipcluster {

namespace detail {

inline std::string errno_text(int err) {
    return std::generic_category().message(err);
}

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

GOSSIPCLUSTER_INLINE FileStorage::FileStorage(std::filesystem::path path, std::size_t max_bytes,
                                              FileSyncCalls calls)
    : path_(std::move(path)), max_bytes_(max_bytes), calls_(calls) {
    std::filesystem::path lock_path = path_;
    lock_path += ".lock";
    detail::UniqueFd fd(detail::open_retry(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
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
            throw StorageError(
                fmt::format("cluster config file {} is in use by another process or storage object "
                            "(lock {} is held)",
                            path_.string(), lock_path.string()));
        throw StorageError(
            fmt::format("cannot lock {}: {}", lock_path.string(), detail::errno_text(err)));
    }
    lock_fd_ = std::move(fd);
    remove_stale_temp_files();
}

GOSSIPCLUSTER_INLINE std::optional<PersistedState> FileStorage::load() {
    load_failed_ = true;
    auto state = load_file();
    load_failed_ = false;
    return state;
}

GOSSIPCLUSTER_INLINE void FileStorage::save(const PersistedState& state, bool fsync) {
    if (load_failed_)
        throw StorageError(
            fmt::format("refusing to overwrite cluster config file {}: the last "
                        "load failed; repair or remove the file first",
                        path_.string()));
    std::string text = render_nodes_conf(state);
    // A file that cannot be loaded back would stop the next start, so never write one.
    if (auto check = parse_nodes_conf(text); !check.ok())
        throw StorageError(fmt::format("refusing to save {}: the state would not load back ({})",
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

GOSSIPCLUSTER_INLINE std::filesystem::path FileStorage::directory() const {
    auto dir = path_.parent_path();
    return dir.empty() ? std::filesystem::path(".") : dir;
}

GOSSIPCLUSTER_INLINE void FileStorage::remove_stale_temp_files() const {
    std::string prefix = path_.filename().string() + ".tmp-";
    std::error_code ec;
    for (std::filesystem::directory_iterator it(directory(), ec), end; !ec && it != end;
         it.increment(ec)) {
        std::string name = it->path().filename().string();
        if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) continue;
        std::string_view pid = std::string_view(name).substr(prefix.size());
        if (!detail::parse_u64(pid)) continue;
        std::error_code ignored;
        std::filesystem::remove(it->path(), ignored);
    }
}

GOSSIPCLUSTER_INLINE void FileStorage::sync_directory() const {
    auto dir = directory();
    detail::UniqueFd fd(detail::open_retry(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    // EINVAL: the file system cannot sync directories; nothing more can be done there.
    if (!fd || (detail::fsync_retry(calls_, fd.get()) != 0 && errno != EINVAL)) {
        int err = errno;
        throw StorageError(fmt::format("cannot fsync directory {} after saving {}: {}",
                                       dir.string(), path_.string(), detail::errno_text(err)));
    }
}

GOSSIPCLUSTER_INLINE std::optional<PersistedState> FileStorage::load_file() const {
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
            throw StorageError(fmt::format("cannot read cluster config file {}: {}", path_.string(),
                                           detail::errno_text(err)));
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
                                       path_.string(), result.error->line, result.error->reason));
    return std::move(result.state);
}

GOSSIPCLUSTER_INLINE StorageError FileStorage::too_large() const {
    return StorageError(fmt::format("cluster config file {} is larger than the limit of {} bytes",
                                    path_.string(), max_bytes_));
}

}  // namespace gossipcluster
