// Unit tests of MemoryStorage: what a simulated node keeps across a simulated crash.
#include <catch2/catch.hpp>

#include <optional>

#include "gossipcluster/storage/memory_storage.hpp"

namespace unit_memory_storage_test {

using namespace gossipcluster;

namespace {

PersistedState state(Epoch epoch) {
    NodeRecord me;
    me.id = *NodeId::parse("e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca");
    me.flags = node_flag::kMyself | node_flag::kMaster;
    me.config_epoch = epoch;
    PersistedState st;
    st.nodes.push_back(me);
    st.current_epoch = epoch;
    return st;
}

}  // namespace

TEST_CASE("[storage] memory storage keeps the last save and counts saves and fsyncs",
          "[unit][storage]") {
    MemoryStorage storage;
    CHECK_FALSE(storage.load());
    storage.save(state(1), false);
    storage.save(state(2), true);
    storage.save(state(3), true);
    CHECK(storage.load() == state(3));
    CHECK(storage.saved() == state(3));
    CHECK(storage.save_count() == 3);
    CHECK(storage.fsync_count() == 2);
    CHECK(storage.load_count() == 2);

    // A copy survives the original, as a node's disk survives a crash of the node.
    MemoryStorage disk = storage;
    storage.save(state(4), true);
    CHECK(disk.load() == state(3));

    MemoryStorage preset(state(9));
    CHECK(preset.load() == state(9));
    CHECK(preset.save_count() == 0);
}

TEST_CASE("[storage] memory storage can fail the next save", "[unit][storage]") {
    MemoryStorage storage;
    storage.save(state(1), true);
    storage.fail_next_save();
    CHECK_THROWS_AS(storage.save(state(2), true), StorageError);
    CHECK(storage.load() == state(1));  // the failed save changed nothing
    CHECK(storage.save_count() == 1);
    CHECK(storage.fsync_count() == 1);
    CHECK(storage.failed_save_count() == 1);
    storage.save(state(3), false);  // only the next one failed
    CHECK(storage.load() == state(3));

    storage.fail_next_save();
    storage.fail_next_save(false);  // withdrawn
    storage.save(state(4), false);
    CHECK(storage.load() == state(4));
}

}  // namespace unit_memory_storage_test
