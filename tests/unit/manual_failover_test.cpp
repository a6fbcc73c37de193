// ManualFailover: both sides of CLUSTER FAILOVER's handshake, its deadline and who resumes writes.
#include <catch2/catch.hpp>

#include <string>

#include "gossipcluster/detail/manual_failover.hpp"

#include "../common/node_names.hpp"

namespace unit_manual_failover_test {

using test_names::name;

using gossipcluster::Duration;
using gossipcluster::NodeId;
using gossipcluster::detail::ManualFailover;

namespace {

constexpr Duration kTimeout{5000};

}  // namespace

TEST_CASE("[manual-failover] none runs until one starts, and it fails only after its deadline") {
    ManualFailover mf;
    CHECK_FALSE(mf.in_progress());
    CHECK_FALSE(mf.expired(1'000'000));
    CHECK_FALSE(mf.reset());  // nothing was paused
    mf.start_as_replica(1000, kTimeout);
    CHECK(mf.in_progress());
    CHECK(mf.deadline() == 6000);
    CHECK_FALSE(mf.expired(6000));  // the deadline itself is still in time
    CHECK(mf.expired(6001));
    CHECK(mf.replica().is_null());
}

TEST_CASE("[manual-failover] the replica's election waits until it has applied the paused offset") {
    ManualFailover mf;
    // A PAUSED header seen while no failover runs is not remembered.
    mf.note_paused_master(700);
    mf.start_as_replica(1000, kTimeout);
    CHECK_FALSE(mf.caught_up(700));
    CHECK_FALSE(mf.election_allowed());
    mf.note_paused_master(900);
    mf.note_paused_master(950);  // later headers repeat it; the first one counts
    CHECK_FALSE(mf.caught_up(899));
    CHECK_FALSE(mf.election_allowed());
    CHECK(mf.caught_up(900));
    CHECK(mf.election_allowed());
    CHECK_FALSE(mf.caught_up(900));  // once only: the election is not restarted
    mf.election_done();
    CHECK_FALSE(mf.election_allowed());
    CHECK(mf.in_progress());
    CHECK_FALSE(mf.reset());  // a replica never paused writes
    CHECK_FALSE(mf.in_progress());
    CHECK_FALSE(mf.caught_up(900));  // the offset went with it
}

TEST_CASE("[manual-failover] FORCE allows the election without the master's offset") {
    ManualFailover mf;
    mf.start_as_replica(1000, kTimeout);
    mf.allow_election();
    CHECK(mf.election_allowed());
    // A new request starts from nothing.
    mf.start_as_replica(2000, kTimeout);
    CHECK_FALSE(mf.election_allowed());
    CHECK(mf.deadline() == 7000);
}

TEST_CASE("[manual-failover] the master that paused for a replica resumes writes once") {
    ManualFailover mf;
    mf.start_as_master(1000, kTimeout, name('r'));
    CHECK(mf.in_progress());
    CHECK(mf.replica() == name('r'));
    // Writes stay paused twice as long as the failover may take, as in Redis.
    CHECK(ManualFailover::resume_writes_at(1000, kTimeout) == 11000);
    CHECK(mf.reset());
    CHECK_FALSE(mf.reset());
    CHECK(mf.replica().is_null());
    // A second request replaces the first; the one left to end is the second.
    mf.start_as_master(2000, kTimeout, name('r'));
    mf.start_as_master(3000, kTimeout, name('s'));
    CHECK(mf.replica() == name('s'));
    CHECK(mf.deadline() == 8000);
    CHECK(mf.reset());
}

}  // namespace unit_manual_failover_test
