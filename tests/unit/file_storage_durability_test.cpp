// Unit tests of FileStorage against power loss: sync before rename, and no partial file loads.
#include <catch2/catch.hpp>

#include "../common/reply_samples.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "../common/temp_dir.hpp"
#include "gossipcluster/storage/file_storage.hpp"

namespace unit_file_storage_durability_test {

using namespace gossipcluster;
namespace fs = std::filesystem;

namespace {

using test_common::read_file;
using test_common::TempDir;
using test_common::write_file;

PersistedState sample_state() {
    auto parsed = parse_nodes_conf(test_data::kSampleNodesConf);
    REQUIRE(parsed.ok());
    return *parsed.state;
}

// What reached the disk calls, in order. Inodes name the files: the temporary file's name is
// gone once renamed, its inode is not.
struct SyncCall {
    enum Kind { kFsyncFile, kFsyncDirectory, kRename };
    Kind kind;
    ino_t inode;
};
std::vector<SyncCall> g_calls;  // FileSyncCalls are plain function pointers: no captures

int recording_fsync(int fd) {
    struct stat st {};
    REQUIRE(::fstat(fd, &st) == 0);
    g_calls.push_back(
        {S_ISDIR(st.st_mode) ? SyncCall::kFsyncDirectory : SyncCall::kFsyncFile, st.st_ino});
    return ::fsync(fd);
}

int recording_rename(const char* from, const char* to) {
    struct stat st {};
    REQUIRE(::stat(from, &st) == 0);
    g_calls.push_back({SyncCall::kRename, st.st_ino});
    return ::rename(from, to);
}

int failing_fsync(int) {
    errno = EIO;
    return -1;
}

}  // namespace

TEST_CASE(
    "[storage-durable] every save syncs its file before the rename, fsync saves the "
    "directory after it",
    "[unit][storage][storage-durable]") {
    TempDir dir("gossipcluster-storage");
    const auto path = dir.path() / "nodes.conf";
    FileStorage storage(path, FileStorage::kDefaultMaxBytes,
                        FileSyncCalls{&recording_fsync, &recording_rename});
    PersistedState state = sample_state();
    for (const bool fsync : {true, false, false, true}) {
        INFO("save with fsync " << fsync);
        ++state.current_epoch;
        g_calls.clear();
        storage.save(state, fsync);

        std::size_t rename_at = g_calls.size();
        for (std::size_t i = 0; i < g_calls.size(); ++i)
            if (g_calls[i].kind == SyncCall::kRename) rename_at = i;
        REQUIRE(rename_at < g_calls.size());
        const ino_t renamed = g_calls[rename_at].inode;
        // The bytes that replace the durable file are on disk before they replace it.
        bool synced_first = false;
        for (std::size_t i = 0; i < rename_at; ++i)
            synced_first |= g_calls[i].kind == SyncCall::kFsyncFile && g_calls[i].inode == renamed;
        CHECK(synced_first);
        // With fsync, the rename itself is durable before save() returns.
        bool directory_after = false;
        for (std::size_t i = rename_at + 1; i < g_calls.size(); ++i)
            directory_after |= g_calls[i].kind == SyncCall::kFsyncDirectory;
        CHECK(directory_after == fsync);
        CHECK(storage.load() == state);
    }
}

TEST_CASE("[storage-durable] a save whose fsync fails leaves the durable file alone",
          "[unit][storage][storage-durable]") {
    TempDir dir("gossipcluster-storage");
    const auto path = dir.path() / "nodes.conf";
    const PersistedState first = sample_state();
    {
        FileStorage storage(path);
        storage.save(first, true);
    }
    const std::string before = read_file(path);
    FileStorage storage(path, FileStorage::kDefaultMaxBytes,
                        FileSyncCalls{&failing_fsync, FileSyncCalls{}.rename});
    REQUIRE(storage.load() == first);
    PersistedState next = first;
    next.last_vote_epoch = 9;
    for (const bool fsync : {false, true}) {
        INFO("save with fsync " << fsync);
        CHECK_THROWS_WITH(storage.save(next, fsync),
                          Catch::Contains("fsync") && Catch::Contains("Input/output error"));
        CHECK(read_file(path) == before);
    }
}

TEST_CASE("[storage-durable] an empty file is refused; only a missing one is a fresh start",
          "[unit][storage][storage-durable]") {
    TempDir dir("gossipcluster-storage");
    const auto path = dir.path() / "nodes.conf";
    FileStorage storage(path);
    CHECK_FALSE(storage.load());  // missing: a fresh node

    write_file(path, "");
    CHECK_THROWS_WITH(storage.load(),
                      Catch::Contains("is empty") && Catch::Contains(path.string()));
    // And it is not replaced by a fresh node's file either.
    CHECK_THROWS_WITH(storage.save(sample_state(), true), Catch::Contains("last load failed"));
    CHECK(fs::file_size(path) == 0);
}

TEST_CASE("[storage-durable] every truncation of a real nodes.conf is refused on load",
          "[unit][storage][storage-durable][truncation]") {
    TempDir dir("gossipcluster-storage");
    const auto path = dir.path() / "nodes.conf";
    // Node lines of redis-server 7.0.15 and the vars line it always writes last.
    const std::string& file = test_data::kSampleNodesConf;
    const PersistedState whole = sample_state();
    REQUIRE(whole.nodes.size() == 6);
    FileStorage storage(path);
    std::size_t line_boundaries = 0;
    for (std::size_t cut = 0; cut <= file.size(); ++cut) {
        INFO("file cut to " << cut << " of " << file.size() << " bytes");
        write_file(path, file.substr(0, cut));
        if (cut == file.size()) {
            CHECK(storage.load() == whole);
            continue;
        }
        if (cut > 0 && file[cut - 1] == '\n') ++line_boundaries;
        try {
            auto loaded = storage.load();
            FAIL("a truncated file loaded" << (loaded ? "" : " as a fresh node"));
        } catch (const StorageError& e) {
            CHECK_THAT(e.what(), Catch::Contains(path.string()));
            CHECK_THAT(e.what(), Catch::Contains("corrupt") || Catch::Contains("empty"));
        }
    }
    CHECK(line_boundaries == 6);
}

}  // namespace unit_file_storage_durability_test
