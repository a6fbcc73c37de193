// Election: a replica's bid for its failed master's slots (rank, delay, tally) and the vote rule.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "gossipcluster/detail/quorum.hpp"
#include "gossipcluster/time.hpp"
#include "gossipcluster/types.hpp"

namespace gossipcluster::detail {

// How long an election collects votes (Redis: twice the node timeout, at least 2 s).
inline std::int64_t election_auth_timeout(std::int64_t node_timeout_ms) {
    return std::max<std::int64_t>(2 * node_timeout_ms, 2000);
}

// Whether a sibling replica is ahead of us in the ranking: it holds more data, or as much and has
// the smaller name (so that two replicas never share a rank and ask for votes together).
inline bool ranks_ahead(std::uint64_t their_offset, const NodeId& their_id, std::uint64_t my_offset,
                        const NodeId& my_id) {
    return their_offset > my_offset || (their_offset == my_offset && their_id < my_id);
}

// How long after its master's FAIL a replica of rank `rank` asks for votes: the best one first,
// each next one a rank delay later, with the drawn jitter (0..election_jitter) on top.
inline std::int64_t election_delay(Duration base, std::int64_t jitter, std::size_t rank,
                                   Duration rank_delay) {
    return base.count() + jitter + static_cast<std::int64_t>(rank) * rank_delay.count();
}

// Requests at new epochs after a contest, at most, per election.
inline constexpr std::size_t kMaxContestedRetries = 3;

// When a contested election sent at `request_time` is asked again: a quarter of the rank delay
// later, so that the votes for the first request have arrived on any LAN, and up to three
// retries still come before the next replica of our master may start (one rank delay after us).
inline std::int64_t contested_retry_at(std::int64_t request_time, Duration rank_delay) {
    return request_time + std::max<std::int64_t>(1, rank_delay.count() / 4);
}

// One replica's election, from its scheduling to its end. The candidate side only: what a master
// decides about a request is vote_refusal() below.
class Election {
  public:
    bool scheduled() const { return time_ != 0; }
    // When the request may leave (or left): 0 while none is scheduled.
    std::int64_t time() const { return time_; }
    bool sent() const { return sent_; }
    Epoch epoch() const { return epoch_; }
    std::size_t rank() const { return rank_; }
    std::size_t votes() const { return voters_.size(); }
    std::size_t voters_capacity() const { return voters_.capacity(); }
    bool contested() const { return contested_; }

    void reset() { *this = Election{}; }

    // A new attempt that may ask for votes at `at`.
    void schedule(std::int64_t at, std::size_t rank) {
        reset();
        time_ = at;
        rank_ = rank;
    }

    // Others reported more data since we were scheduled: we wait as many rank delays longer as
    // we fell back.
    void step_back(std::size_t new_rank, Duration rank_delay) {
        if (new_rank <= rank_) return;
        time_ += static_cast<std::int64_t>(new_rank - rank_) * rank_delay.count();
        rank_ = new_rank;
    }

    // The request went out at `epoch`.
    void mark_sent(Epoch epoch) {
        epoch_ = epoch;
        sent_ = true;
    }

    // The attempt is over without a win: later votes no longer count.
    void expire() { sent_ = false; }

    // A vote from `voter`; false when it had already voted (a duplicated or replayed ACK).
    bool add_vote(const NodeId& voter) {
        if (std::find(voters_.begin(), voters_.end(), voter) != voters_.end()) return false;
        voters_.push_back(voter);
        return true;
    }

    // Whether the votes make a majority of the `voters` masters that serve slots.
    bool won(std::size_t voters) const { return votes() >= majority(voters); }

    // A rival asked for votes at `rival_epoch` while our request waits: if it is at our epoch or
    // newer, masters that saw it first refuse us. Returns whether a retry is now planned.
    bool note_rival(Epoch rival_epoch) {
        if (!sent_ || rival_epoch < epoch_ || retries_ >= kMaxContestedRetries) return false;
        contested_ = true;
        return true;
    }

    // When a contested request is asked again.
    std::int64_t retry_at(Duration rank_delay) const {
        return contested_retry_at(time_, rank_delay);
    }

    // At `t`, a contested request that is due is set to be sent again now, at a new epoch (the
    // votes for the old one stay where they went). Returns whether that happened.
    bool take_retry(std::int64_t t, Duration rank_delay) {
        if (!sent_ || !contested_ || t < retry_at(rank_delay)) return false;
        contested_ = false;
        ++retries_;
        sent_ = false;
        voters_.clear();
        time_ = t;
        return true;
    }

  private:
    std::int64_t time_ = 0;
    bool sent_ = false;
    Epoch epoch_ = 0;
    std::size_t rank_ = 0;
    std::vector<NodeId> voters_;
    // A rival's request at our epoch or a newer one came while we waited for votes.
    bool contested_ = false;
    std::size_t retries_ = 0;  // new epochs asked for after such a contest
};

// What a master knows when a replica asks for its vote.
struct VoteRequestView {
    bool voter_serves_slots = false;         // we are a master with slots
    Epoch request_epoch = 0;                 // the requester's currentEpoch
    Epoch current_epoch = 0;                 // ours
    Epoch last_vote_epoch = 0;               // the epoch we last voted in
    bool requester_is_replica = false;       // with a master we know
    bool master_failing = false;             // its master is FAIL here
    bool forced = false;                     // a manual failover's request (FORCEACK)
    bool voted_for_master_recently = false;  // within the debounce of our last vote for it
    bool claims_newer_slots = false;         // it claims a slot whose owner here has a newer epoch
};

enum class VoteRefusal : std::uint8_t {
    None,  // the vote is granted
    NotAVoter,
    StaleEpoch,
    AlreadyVotedInEpoch,
    NotAReplica,
    MasterNotFailing,
    VotedForMasterRecently,
    StaleSlotClaim,
};

// Redis's rules for a vote, in its order: only masters with slots vote, once per epoch, for a
// replica of a failing master (or a forced request), once per failed master within the debounce,
// and never for a claim older than what we know of its slots.
inline VoteRefusal vote_refusal(const VoteRequestView& r) {
    if (!r.voter_serves_slots) return VoteRefusal::NotAVoter;
    if (r.request_epoch < r.current_epoch) return VoteRefusal::StaleEpoch;
    if (r.last_vote_epoch == r.current_epoch) return VoteRefusal::AlreadyVotedInEpoch;
    if (!r.requester_is_replica) return VoteRefusal::NotAReplica;
    if (!r.master_failing && !r.forced) return VoteRefusal::MasterNotFailing;
    if (r.voted_for_master_recently) return VoteRefusal::VotedForMasterRecently;
    if (r.claims_newer_slots) return VoteRefusal::StaleSlotClaim;
    return VoteRefusal::None;
}

}  // namespace gossipcluster::detail
