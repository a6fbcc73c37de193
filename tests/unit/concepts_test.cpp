// Static checks of the policy concepts: the shipped policies satisfy them, near misses do not.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include <gossipcluster/clock/steady_clock.hpp>
#include <gossipcluster/cluster_core.hpp>
#include <gossipcluster/concepts.hpp>
#include <gossipcluster/storage/file_storage.hpp>
#include <gossipcluster/storage/memory_storage.hpp>
#include <gossipcluster/testing/manual_clock.hpp>
#include <gossipcluster/testing/sim_cluster.hpp>

namespace unit_concepts_test {

using namespace gossipcluster;

namespace {

// The member functions below are only named in unevaluated contexts, so they need no bodies.

// Transport near misses: each differs from a valid transport in exactly one way.
struct GoodTransport {
    void connect(LinkId, const Endpoint&);
    void send(LinkId, const Message&);
    void close(LinkId);
};
struct TransportWithoutClose {
    void connect(LinkId, const Endpoint&);
    void send(LinkId, const Message&);
};
struct TransportWithoutConnect {
    void send(LinkId, const Message&);
    void close(LinkId);
};
struct TransportSendReturnsBool {  // a send that reports success is not the contract: drops are
    void connect(LinkId, const Endpoint&);
    bool send(LinkId, const Message&);
    void close(LinkId);
};
struct TransportSendTakesMutableMessage {  // the core hands out const messages
    void connect(LinkId, const Endpoint&);
    void send(LinkId, Message&);
    void close(LinkId);
};
struct TransportConnectTakesString {  // an Endpoint does not convert to a string
    void connect(LinkId, const std::string&);
    void send(LinkId, const Message&);
    void close(LinkId);
};
struct TransportCloseTakesInt {  // nor does a LinkId to an integer
    void connect(LinkId, const Endpoint&);
    void send(LinkId, const Message&);
    void close(int);
};

// Clock near misses.
struct GoodClock {
    Instant now();
    std::uint64_t unix_ms();
};
struct ClockNowReturnsInteger {
    std::int64_t now();
    std::uint64_t unix_ms();
};
struct ClockNowReturnsChrono {
    std::chrono::milliseconds now();
    std::uint64_t unix_ms();
};
struct ClockWithoutWallTime {
    Instant now();
};
struct ClockWallTimeIsText {
    Instant now();
    std::string unix_ms();
};
struct ClockWallTimeNarrower {  // any integer that converts is fine for the wall clock
    Instant now();
    std::uint32_t unix_ms();
};

// Storage near misses.
struct GoodStorage {
    std::optional<PersistedState> load();
    void save(const PersistedState&, bool);
};
struct StorageLoadWithoutOptional {  // cannot tell a fresh node from a loaded one
    PersistedState load();
    void save(const PersistedState&, bool);
};
struct StorageSaveWithoutFsync {
    std::optional<PersistedState> load();
    void save(const PersistedState&);
};
struct StorageSaveReturnsBool {  // failure is reported by throwing, not by a flag to ignore
    std::optional<PersistedState> load();
    bool save(const PersistedState&, bool);
};
struct StorageWithoutLoad {
    void save(const PersistedState&, bool);
};

// Whether ClusterCore<T, C, S> names a type at all: false when its constraints reject a policy.
template <typename T, typename C, typename S>
concept CoreAccepts = requires {
    typename ClusterCore<T, C, S>;
};

// The shipped policies.
static_assert(Transport<testing::SimTransport>);
static_assert(Clock<testing::ManualClock>);
static_assert(Clock<SteadyClock>);
static_assert(Storage<MemoryStorage>);
static_assert(Storage<FileStorage>);
static_assert(CoreAccepts<testing::SimTransport, testing::ManualClock, MemoryStorage>);
static_assert(CoreAccepts<testing::SimTransport, SteadyClock, FileStorage>);

}  // namespace

TEST_CASE("[concepts] the shipped policies satisfy their concepts", "[unit][concepts]") {
    STATIC_REQUIRE(Transport<testing::SimTransport>);
    STATIC_REQUIRE(Clock<testing::ManualClock>);
    STATIC_REQUIRE(Clock<SteadyClock>);
    STATIC_REQUIRE(Storage<MemoryStorage>);
    STATIC_REQUIRE(Storage<FileStorage>);
    STATIC_REQUIRE(
        std::is_same_v<testing::SimCore,
                       ClusterCore<testing::SimTransport, testing::ManualClock, MemoryStorage>>);
}

TEST_CASE("[concepts] a transport must connect, send and close with the exact shapes",
          "[unit][concepts]") {
    STATIC_REQUIRE(Transport<GoodTransport>);
    STATIC_REQUIRE_FALSE(Transport<TransportWithoutClose>);
    STATIC_REQUIRE_FALSE(Transport<TransportWithoutConnect>);
    STATIC_REQUIRE_FALSE(Transport<TransportSendReturnsBool>);
    STATIC_REQUIRE_FALSE(Transport<TransportSendTakesMutableMessage>);
    STATIC_REQUIRE_FALSE(Transport<TransportConnectTakesString>);
    STATIC_REQUIRE_FALSE(Transport<TransportCloseTakesInt>);
    // The policies are not interchangeable.
    STATIC_REQUIRE_FALSE(Transport<GoodClock>);
    STATIC_REQUIRE_FALSE(Transport<MemoryStorage>);
    STATIC_REQUIRE_FALSE(Transport<int>);
}

TEST_CASE("[concepts] a clock must return an Instant and an integral wall time",
          "[unit][concepts]") {
    STATIC_REQUIRE(Clock<GoodClock>);
    STATIC_REQUIRE(Clock<ClockWallTimeNarrower>);
    STATIC_REQUIRE_FALSE(Clock<ClockNowReturnsInteger>);
    STATIC_REQUIRE_FALSE(Clock<ClockNowReturnsChrono>);
    STATIC_REQUIRE_FALSE(Clock<ClockWithoutWallTime>);
    STATIC_REQUIRE_FALSE(Clock<ClockWallTimeIsText>);
    STATIC_REQUIRE_FALSE(Clock<GoodTransport>);
    STATIC_REQUIRE_FALSE(Clock<std::chrono::steady_clock>);  // now() is static but not an Instant
}

TEST_CASE("[concepts] a storage must load an optional state and save with an fsync flag",
          "[unit][concepts]") {
    STATIC_REQUIRE(Storage<GoodStorage>);
    STATIC_REQUIRE_FALSE(Storage<StorageLoadWithoutOptional>);
    STATIC_REQUIRE_FALSE(Storage<StorageSaveWithoutFsync>);
    STATIC_REQUIRE_FALSE(Storage<StorageSaveReturnsBool>);
    STATIC_REQUIRE_FALSE(Storage<StorageWithoutLoad>);
    STATIC_REQUIRE_FALSE(Storage<GoodClock>);
}

TEST_CASE("[concepts] ClusterCore rejects a wrong policy in any position", "[unit][concepts]") {
    STATIC_REQUIRE(CoreAccepts<GoodTransport, GoodClock, GoodStorage>);
    STATIC_REQUIRE_FALSE(CoreAccepts<TransportWithoutClose, GoodClock, GoodStorage>);
    STATIC_REQUIRE_FALSE(CoreAccepts<GoodTransport, ClockNowReturnsInteger, GoodStorage>);
    STATIC_REQUIRE_FALSE(CoreAccepts<GoodTransport, GoodClock, StorageSaveWithoutFsync>);
    // Swapped policies are caught too, not only malformed ones.
    STATIC_REQUIRE_FALSE(CoreAccepts<GoodClock, GoodTransport, GoodStorage>);
    STATIC_REQUIRE_FALSE(CoreAccepts<GoodTransport, GoodStorage, GoodClock>);
}

}  // namespace unit_concepts_test
