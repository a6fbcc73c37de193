// Unit tests of FileStorage: locking, fresh start, corrupt files, atomic replace under kill -9.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "../common/temp_dir.hpp"
#include "gossipcluster/storage/file_storage.hpp"

namespace unit_file_storage_test {

using namespace gossipcluster;
namespace fs = std::filesystem;

namespace {

using test_common::read_file;
using test_common::TempDir;
using test_common::write_file;

std::set<std::string> names_in(const fs::path& dir) {
    std::set<std::string> names;
    for (const auto& e : fs::directory_iterator(dir))
        names.insert(e.path().filename().string());
    return names;
}

NodeId make_id(std::uint64_t n) {
    auto id = NodeId::parse(fmt::format("{:040x}", n));
    REQUIRE(id);
    return *id;
}

// A distinct state per version, of varying length, so that a torn or mixed write cannot pass as
// another version.
PersistedState version(std::uint64_t v) {
    PersistedState st;
    NodeRecord me;
    me.id = make_id(0xabc);
    me.ip = "127.0.0.1";
    me.port = 7000;
    me.cport = 17000;
    me.flags = node_flag::kMyself | node_flag::kMaster;
    me.connected = true;
    me.config_epoch = v;
    me.pong_received_ms = 1700000000000 + v;
    me.slots.set_range(0, v % kSlotCount);
    st.nodes.push_back(me);
    for (std::uint64_t i = 0; i < v % 7; ++i) {
        NodeRecord n;
        n.id = make_id(0x1000 + i);
        n.ip = "127.0.0.1";
        n.port = static_cast<std::uint16_t>(7001 + i);
        n.cport = static_cast<std::uint16_t>(17001 + i);
        n.hostname = std::string(v % 13, 'h');
        n.flags = i % 2 ? node_flag::kSlave : node_flag::kMaster;
        if (i % 2) n.master = me.id;
        n.config_epoch = i % 2 ? v : i;
        n.pong_received_ms = 1700000000000 + v * 10 + i;
        st.nodes.push_back(n);
    }
    st.current_epoch = v;
    st.last_vote_epoch = v / 2;
    return st;
}

// Waits for a child that is expected to end on its own, at most `limit`; kills it otherwise.
int wait_child(pid_t pid, std::chrono::milliseconds limit) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    int status = 0;
    while (true) {
        pid_t r = ::waitpid(pid, &status, WNOHANG);
        if (r == pid) return status;
        if (r < 0 && errno != EINTR) return -1;
        if (std::chrono::steady_clock::now() > deadline) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, &status, 0);
            return -1;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
}

}  // namespace

TEST_CASE("[storage] save then load returns the saved state", "[unit][storage]") {
    TempDir dir("gossipcluster-storage");
    const auto path = dir.path() / "nodes.conf";
    FileStorage storage(path);
    CHECK(storage.path() == path);
    CHECK_FALSE(storage.load());  // missing file: fresh start

    for (std::uint64_t v : {1, 6, 20, 7}) {
        const bool fsync = v % 2 == 0;
        storage.save(version(v), fsync);
        CHECK(read_file(path) == render_nodes_conf(version(v)));
        auto loaded = storage.load();
        REQUIRE(loaded);
        CHECK(*loaded == version(v));
    }
    // Only the file and its lock: no temp files are left behind.
    CHECK(names_in(dir.path()) == std::set<std::string>{"nodes.conf", "nodes.conf.lock"});

    // A new object (a restart) sees the same state.
    FileStorage moved = std::move(storage);
    CHECK(moved.load() == version(7));
}

TEST_CASE("[storage] a second FileStorage on the same path is refused", "[unit][storage]") {
    TempDir dir("gossipcluster-storage");
    const auto path = dir.path() / "nodes.conf";
    {
        FileStorage first(path);
        try {
            FileStorage second(path);
            FAIL("second FileStorage was allowed");
        } catch (const StorageError& e) {
            CHECK_THAT(e.what(), Catch::Contains(path.string()));
            CHECK_THAT(e.what(), Catch::Contains("in use"));
        }

        // Another process is refused too (flock is per open file, not per process).
        pid_t child = ::fork();
        REQUIRE(child >= 0);
        if (child == 0) {
            int code = 3;
            try {
                FileStorage other(path);
                code = 1;
            } catch (const StorageError&) {
                code = 0;
            } catch (...) {
                code = 2;
            }
            ::_exit(code);
        }
        int status = wait_child(child, std::chrono::seconds(10));
        REQUIRE(WIFEXITED(status));
        CHECK(WEXITSTATUS(status) == 0);

        // A different file in the same directory is independent.
        FileStorage other_file(dir.path() / "nodes-2.conf");
    }
    // Released with the object.
    FileStorage again(path);
    CHECK_FALSE(again.load());
}

TEST_CASE("[storage] a corrupt file is refused with its line and never overwritten",
          "[unit][storage]") {
    TempDir dir("gossipcluster-storage");
    const auto path = dir.path() / "nodes.conf";
    const std::string good = render_nodes_conf(version(4));
    const std::string corrupt = good.substr(0, good.find('\n') + 1) +
                                "0123456789012345678901234567890123456789 127.0.0.1:7001@17001 "
                                "master - 0 0 1 connected 16384\n" +
                                "vars currentEpoch 4 lastVoteEpoch 2\n";
    write_file(path, corrupt);

    FileStorage storage(path);
    try {
        storage.load();
        FAIL("corrupt file loaded");
    } catch (const StorageError& e) {
        CHECK_THAT(e.what(), Catch::Contains(path.string()));
        CHECK_THAT(e.what(), Catch::Contains("line 2"));
        CHECK_THAT(e.what(), Catch::Contains("slot"));
    }
    CHECK(read_file(path) == corrupt);
    CHECK_THROWS_AS(storage.save(version(5), true), StorageError);
    CHECK_THROWS_WITH(storage.save(version(5), false), Catch::Contains("last load failed"));
    CHECK(read_file(path) == corrupt);
    CHECK(names_in(dir.path()) == std::set<std::string>{"nodes.conf", "nodes.conf.lock"});

    // Once repaired and loaded, saving works again.
    write_file(path, good);
    CHECK(storage.load() == version(4));
    storage.save(version(5), false);
    CHECK(storage.load() == version(5));
}

TEST_CASE("[storage] files above the size limit are refused", "[unit][storage]") {
    TempDir dir("gossipcluster-storage");
    const auto path = dir.path() / "nodes.conf";
    {
        // Sparse: costs no disk space.
        int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        REQUIRE(fd >= 0);
        REQUIRE(::ftruncate(fd, static_cast<off_t>(FileStorage::kDefaultMaxBytes + 1)) == 0);
        ::close(fd);
    }
    FileStorage storage(path);
    CHECK_THROWS_WITH(storage.load(),
                      Catch::Contains("larger than") && Catch::Contains(path.string()));
    CHECK_THROWS_AS(storage.save(version(1), false), StorageError);
    CHECK(fs::file_size(path) == FileStorage::kDefaultMaxBytes + 1);

    const auto small_path = dir.path() / "small.conf";
    write_file(small_path, render_nodes_conf(version(6)));
    FileStorage small(small_path, 64);
    CHECK_THROWS_WITH(small.load(), Catch::Contains("larger than the limit of 64 bytes"));
}

TEST_CASE("[storage] save errors throw with errno text and leave no temp file", "[unit][storage]") {
    TempDir dir("gossipcluster-storage");
    const auto sub = dir.path() / "sub";
    fs::create_directories(sub);
    FileStorage storage(sub / "nodes.conf");
    storage.save(version(1), true);
    fs::remove_all(sub);
    CHECK_THROWS_WITH(storage.save(version(2), true),
                      Catch::Contains("No such file or directory") &&
                          Catch::Contains((sub / "nodes.conf").string()));
    CHECK_FALSE(fs::exists(sub));

    // The target is a directory: rename fails after the temp file was written.
    const auto path = dir.path() / "nodes.conf";
    fs::create_directories(path);
    FileStorage blocked(path);
    CHECK_THROWS_WITH(blocked.save(version(2), false),
                      Catch::Contains("rename") && Catch::Contains("directory"));
    CHECK(names_in(dir.path()) == std::set<std::string>{"nodes.conf", "nodes.conf.lock"});
}

TEST_CASE("[storage] a state that would not load back is not written", "[unit][storage]") {
    TempDir dir("gossipcluster-storage");
    const auto path = dir.path() / "nodes.conf";
    FileStorage storage(path);
    storage.save(version(2), false);
    PersistedState no_myself = version(3);
    no_myself.nodes[0].flags = node_flag::kMaster;
    CHECK_THROWS_WITH(storage.save(no_myself, true), Catch::Contains("would not load back"));
    PersistedState bad_hostname = version(3);
    bad_hostname.nodes[0].hostname = "has space";
    CHECK_THROWS_AS(storage.save(bad_hostname, true), StorageError);
    CHECK(storage.load() == version(2));
}

TEST_CASE("[storage] temp files of a writer that died are removed on open", "[unit][storage]") {
    TempDir dir("gossipcluster-storage");
    const auto path = dir.path() / "nodes.conf";
    write_file(dir.path() / "nodes.conf.tmp-12345", "half a file");
    write_file(dir.path() / "nodes.conf.tmp-other", "not ours");
    write_file(dir.path() / "other.conf.tmp-12345", "not ours either");
    FileStorage storage(path);
    CHECK(names_in(dir.path()) ==
          std::set<std::string>{"nodes.conf.lock", "nodes.conf.tmp-other", "other.conf.tmp-12345"});
}

namespace {

// The child saves versions 1, 2, ... until killed; the parent kills it with SIGKILL at a random
// moment and checks the file holds exactly one complete version.
void crash_rounds(int rounds, std::uint32_t seed) {
    TempDir dir("gossipcluster-storage");
    const auto path = dir.path() / "nodes.conf";
    {
        FileStorage initial(path);
        initial.save(version(0), true);
    }
    std::mt19937 rng(seed);
    std::uint64_t highest = 0;
    for (int round = 0; round < rounds; ++round) {
        pid_t child = ::fork();
        REQUIRE(child >= 0);
        if (child == 0) {
            int code = 0;
            try {
                FileStorage storage(path);
                // Bounded: the parent kills the child long before the end.
                for (std::uint64_t v = 1; v <= 200000; ++v)
                    storage.save(version(v), v % 16 == 0);
            } catch (...) {
                code = 3;
            }
            ::_exit(code);
        }
        std::this_thread::sleep_for(std::chrono::microseconds(rng() % 50000));
        ::kill(child, SIGKILL);
        int status = wait_child(child, std::chrono::seconds(10));
        INFO("round " << round);
        // Exit code 3 would mean the child's own save failed.
        REQUIRE((WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) == 0)));

        FileStorage storage(path);  // also proves the dead child's lock is gone
        auto loaded = storage.load();
        REQUIRE(loaded);
        const std::uint64_t v = loaded->current_epoch;
        REQUIRE(*loaded == version(v));
        highest = std::max(highest, v);
        auto names = names_in(dir.path());
        REQUIRE(names == std::set<std::string>{"nodes.conf", "nodes.conf.lock"});
    }
    CHECK(highest > 0);  // the children did get to save
}

}  // namespace

TEST_CASE("[storage] kill -9 during saves leaves one complete version", "[unit][storage]") {
    crash_rounds(100, 1234);
}

TEST_CASE("[storage] kill -9 during saves, 1000 rounds", "[unit][storage][.long]") {
    crash_rounds(1000, 98765);
}

}  // namespace unit_file_storage_test
