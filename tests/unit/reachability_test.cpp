// The PFAIL rule: a node is suspected only after sending nothing for more than the node timeout.
#include <catch2/catch.hpp>

#include <cstdint>
#include <limits>

#include "gossipcluster/detail/prng.hpp"
#include "gossipcluster/detail/reachability.hpp"

namespace unit_reachability_test {

using gossipcluster::detail::check_pfail;
using gossipcluster::detail::Node;
using gossipcluster::detail::Prng;
using gossipcluster::detail::unreachable_since;

namespace {

constexpr std::int64_t kTimeout = 15000;
constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::max();

Node heard_at(std::int64_t data_received) {
    Node n;
    n.ctime = 100;
    n.data_received = data_received;
    return n;
}

}  // namespace

TEST_CASE("[reachability] nothing pending, nothing suspected") {
    const Node n = heard_at(1000);
    const auto check = check_pfail(n, 1'000'000, kTimeout);
    CHECK_FALSE(check.due);
    CHECK(check.recheck_at == kNever);
}

TEST_CASE("[reachability] a ping unanswered for more than the timeout (a paused process)") {
    Node n = heard_at(1000);
    n.ping_sent = 2000;
    CHECK_FALSE(check_pfail(n, 17000, kTimeout).due);  // exactly the timeout: not yet
    CHECK(check_pfail(n, 17000, kTimeout).recheck_at == 17001);
    CHECK(check_pfail(n, 17001, kTimeout).due);
    // Anything heard after the ping counts as an answer to wait from.
    n.data_received = 9000;
    CHECK_FALSE(check_pfail(n, 17001, kTimeout).due);
    CHECK(check_pfail(n, 24000, kTimeout).recheck_at == 24001);
    CHECK(check_pfail(n, 24001, kTimeout).due);
}

TEST_CASE("[reachability] a lost link counts from the later of the loss and the last message") {
    Node n = heard_at(3000);
    n.link_lost = true;
    n.link_lost_at = 5000;  // the link broke after the last message: a crash or a reset
    CHECK(unreachable_since(n) == 5000);
    CHECK_FALSE(check_pfail(n, 20000, kTimeout).due);
    CHECK(check_pfail(n, 20000, kTimeout).recheck_at == 20001);
    CHECK(check_pfail(n, 20001, kTimeout).due);
    // Gossip spared direct messages for long before the loss: the loss is what counts, so a
    // reset link is not an instant suspicion.
    n.data_received = 100;
    n.link_lost_at = 40000;
    CHECK_FALSE(check_pfail(n, 41000, kTimeout).due);
    CHECK(check_pfail(n, 55001, kTimeout).due);
    // A node that never spoke counts from when we added it.
    Node silent;
    silent.ctime = 7000;
    silent.link_lost = true;
    CHECK(unreachable_since(silent) == 7000);
    CHECK_FALSE(check_pfail(silent, 22000, kTimeout).due);
    CHECK(check_pfail(silent, 22001, kTimeout).due);
}

TEST_CASE("[reachability] a restart within the timeout is never suspected") {
    // The process stopped at 10000 (its link broke then) and is back and talking at 18000.
    Node n = heard_at(18000);
    n.link_lost = false;  // any message clears the loss
    n.link_lost_at = 10000;
    for (std::int64_t t = 18000; t <= 18000 + kTimeout; t += 500)
        CHECK_FALSE(check_pfail(n, t, kTimeout).due);
}

TEST_CASE("[reachability] whenever the rule suspects a node, it was silent for the timeout") {
    Prng prng(20261207);
    for (int round = 0; round < 20000; ++round) {
        Node n;
        // Every time is at or after the node was added, as in a view.
        n.ctime = 1 + static_cast<std::int64_t>(prng.below(5000));
        const auto after_added = [&] {
            return n.ctime + static_cast<std::int64_t>(prng.below(60000));
        };
        n.data_received = prng.below(4) == 0 ? 0 : after_added();
        n.ping_sent = prng.below(3) == 0 ? 0 : after_added();
        n.link_lost = prng.below(2) == 0;
        n.link_lost_at = n.link_lost ? after_added() : 0;
        const std::int64_t timeout = 500 + static_cast<std::int64_t>(prng.below(20000));
        const std::int64_t t = static_cast<std::int64_t>(prng.below(100000));
        const auto check = check_pfail(n, t, timeout);
        const std::int64_t last_heard = n.data_received != 0 ? n.data_received : n.ctime;
        INFO("round " << round);
        if (check.due) REQUIRE(t - last_heard > timeout);
        // Not due yet: it becomes due no earlier than recheck_at, if nothing is heard.
        if (!check.due && check.recheck_at != kNever) {
            REQUIRE(check.recheck_at > t);
            REQUIRE_FALSE(check_pfail(n, check.recheck_at - 1, timeout).due);
            REQUIRE(check_pfail(n, check.recheck_at, timeout).due);
        }
    }
}

}  // namespace unit_reachability_test
