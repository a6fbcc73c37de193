// ManualFailover: one CLUSTER FAILOVER under way, as the replica that asked or the master that
// paused.
#pragma once

#include <cstdint>
#include <optional>

#include "gossipcluster/time.hpp"
#include "gossipcluster/types.hpp"

namespace gossipcluster::detail {

// Both sides of Redis's handshake in one small state, since a node plays one side at a time:
// the replica asks (MFSTART), the master pauses its writes and puts PAUSED and its final offset
// in every header, the replica waits until it has applied that offset and then runs an election
// that needs no failed master and no delay. Either side gives up at the deadline.
class ManualFailover {
  public:
    bool in_progress() const { return deadline_ != 0; }
    // Monotonic ms after which it has failed; 0 while none runs.
    std::int64_t deadline() const { return deadline_; }
    bool expired(std::int64_t now) const { return deadline_ != 0 && deadline_ < now; }

    // Replica side: the operator asked at `now`. The election waits for allow_election().
    void start_as_replica(std::int64_t now, Duration timeout) {
        reset();
        deadline_ = now + timeout.count();
    }
    // Master side: `replica` asked at `now`; our writes stay paused until resume_writes_at().
    void start_as_master(std::int64_t now, Duration timeout, const NodeId& replica) {
        reset();
        deadline_ = now + timeout.count();
        replica_ = replica;
    }
    // Twice the failover timeout, as in Redis, so that a slow replica can still catch up.
    static std::int64_t resume_writes_at(std::int64_t now, Duration timeout) {
        return now + 2 * timeout.count();
    }
    // Master side: who asked (null on the replica side).
    const NodeId& replica() const { return replica_; }

    // Replica side: the paused master's offset, from the first header with PAUSED while one runs
    // (later headers repeat it; the master writes nothing more while paused).
    void note_paused_master(std::uint64_t offset) {
        if (in_progress() && !master_offset_) master_offset_ = offset;
    }
    // Replica side: true once, when our applied offset reaches the paused master's and the
    // election may start.
    bool caught_up(std::uint64_t applied_offset) {
        if (can_start_ || !master_offset_ || *master_offset_ != applied_offset) return false;
        can_start_ = true;
        return true;
    }
    // FORCE skips the wait for the master's offset.
    void allow_election() { can_start_ = true; }
    bool election_allowed() const { return can_start_; }
    // The election it allowed has been won: nothing else is left to allow.
    void election_done() { can_start_ = false; }

    // Ends it, whichever way. True when this node is the master that paused its writes for it:
    // it must resume them (a replica never paused anything, and neither did a master whose
    // failover already ended).
    bool reset() {
        const bool paused = in_progress() && !replica_.is_null();
        *this = ManualFailover{};
        return paused;
    }

  private:
    std::int64_t deadline_ = 0;
    NodeId replica_;
    std::optional<std::uint64_t> master_offset_;
    bool can_start_ = false;
};

}  // namespace gossipcluster::detail
