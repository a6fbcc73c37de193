// Election: ranking, delays, the vote tally, contested retries and the rules a master votes by.
#include <catch2/catch.hpp>

#include <string>

#include "gossipcluster/detail/election.hpp"

#include "../common/node_names.hpp"

namespace unit_election_test {

using test_names::name;

using gossipcluster::Duration;
using gossipcluster::NodeId;
using namespace gossipcluster::detail;

namespace {

VoteRequestView grantable() {
    VoteRequestView r;
    r.voter_serves_slots = true;
    r.request_epoch = 8;
    r.current_epoch = 8;
    r.last_vote_epoch = 7;
    r.requester_is_replica = true;
    r.master_failing = true;
    return r;
}

}  // namespace

TEST_CASE("[election] the replica with more data ranks ahead; names break ties") {
    CHECK(ranks_ahead(200, name('z'), 100, name('a')));
    CHECK_FALSE(ranks_ahead(100, name('a'), 200, name('z')));
    CHECK(ranks_ahead(100, name('a'), 100, name('b')));
    CHECK_FALSE(ranks_ahead(100, name('b'), 100, name('a')));
    CHECK_FALSE(ranks_ahead(100, name('a'), 100, name('a')));
}

TEST_CASE("[election] each rank waits one rank delay more") {
    const Duration base{100}, rank_delay{250};
    CHECK(election_delay(base, 0, 0, rank_delay) == 100);
    CHECK(election_delay(base, 40, 0, rank_delay) == 140);
    CHECK(election_delay(base, 40, 2, rank_delay) == 640);
    // Whatever the jitter drawn (at most election_jitter < rank delay in the defaults), rank 0
    // asks before rank 1 would.
    CHECK(election_delay(base, 249, 0, rank_delay) < election_delay(base, 0, 1, rank_delay));
}

TEST_CASE("[election] a vote counts once and a majority of voters wins") {
    Election e;
    CHECK_FALSE(e.scheduled());
    e.schedule(1000, 0);
    e.mark_sent(9);
    CHECK(e.add_vote(name('a')));
    CHECK_FALSE(e.add_vote(name('a')));  // a duplicated or replayed ACK
    CHECK(e.votes() == 1);
    CHECK_FALSE(e.won(3));
    CHECK(e.add_vote(name('b')));
    CHECK(e.won(3));
    CHECK_FALSE(e.won(4));
}

TEST_CASE("[election] stepping back waits a rank delay per place lost, never forward") {
    Election e;
    e.schedule(1000, 1);
    e.step_back(0, Duration{250});
    CHECK(e.time() == 1000);
    e.step_back(3, Duration{250});
    CHECK(e.time() == 1500);
    CHECK(e.rank() == 3);
}

TEST_CASE("[election] a contested request is asked again at most three times") {
    const Duration rank_delay{200};
    Election e;
    e.schedule(1000, 0);
    CHECK_FALSE(e.note_rival(9));  // nothing sent yet: no contest
    e.mark_sent(9);
    CHECK_FALSE(e.note_rival(8));  // an older rival does not contest
    std::int64_t t = 1000;
    for (int retry = 0; retry < 3; ++retry) {
        REQUIRE(e.note_rival(e.epoch()));
        CHECK(e.retry_at(rank_delay) == t + 50);
        CHECK_FALSE(e.take_retry(t + 49, rank_delay));
        CHECK(e.add_vote(name('a')));
        REQUIRE(e.take_retry(t + 50, rank_delay));
        t += 50;
        CHECK_FALSE(e.sent());
        CHECK(e.votes() == 0);  // the votes went to the old epoch
        CHECK(e.time() == t);
        e.mark_sent(e.epoch() + 1);
    }
    CHECK_FALSE(e.note_rival(e.epoch() + 5));
}

TEST_CASE("[election] schedule starts a fresh attempt") {
    Election e;
    e.schedule(500, 2);
    e.mark_sent(4);
    e.add_vote(name('a'));
    e.schedule(9000, 0);
    CHECK(e.time() == 9000);
    CHECK(e.rank() == 0);
    CHECK_FALSE(e.sent());
    CHECK(e.votes() == 0);
    e.reset();
    CHECK_FALSE(e.scheduled());
}

TEST_CASE("[election] a master votes once per epoch, for a replica of a failing master") {
    CHECK(vote_refusal(grantable()) == VoteRefusal::None);

    auto r = grantable();
    r.voter_serves_slots = false;
    CHECK(vote_refusal(r) == VoteRefusal::NotAVoter);

    r = grantable();
    r.request_epoch = 7;
    CHECK(vote_refusal(r) == VoteRefusal::StaleEpoch);

    r = grantable();
    r.last_vote_epoch = 8;  // already voted in this epoch
    CHECK(vote_refusal(r) == VoteRefusal::AlreadyVotedInEpoch);

    r = grantable();
    r.requester_is_replica = false;
    CHECK(vote_refusal(r) == VoteRefusal::NotAReplica);

    r = grantable();
    r.master_failing = false;
    CHECK(vote_refusal(r) == VoteRefusal::MasterNotFailing);
    r.forced = true;  // a manual failover's request
    CHECK(vote_refusal(r) == VoteRefusal::None);

    r = grantable();
    r.voted_for_master_recently = true;
    CHECK(vote_refusal(r) == VoteRefusal::VotedForMasterRecently);

    r = grantable();
    r.claims_newer_slots = true;
    CHECK(vote_refusal(r) == VoteRefusal::StaleSlotClaim);
}

}  // namespace unit_election_test
