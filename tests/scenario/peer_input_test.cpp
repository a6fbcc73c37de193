// Scenarios of hostile or unusual peer input: epochs at the limit, long blacklists, long names.
#include <catch2/catch.hpp>

#include <limits>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <gossipcluster/bus_limits.hpp>
#include <gossipcluster/detail/prng.hpp>
#include <gossipcluster/testing/cluster_setup.hpp>

namespace scenario_peer_input_test {

using namespace gossipcluster;
using namespace gossipcluster::testing;
using namespace std::chrono_literals;

TEST_CASE(
    "[epochs] a header or UPDATE claiming configEpoch 2^64-1 is ignored and failover still works",
    "[scenario]") {
    SimCluster sim({.seed = 211});
    ClusterShape sh;
    sh.config.node_timeout = Duration{1000};
    REQUIRE(form_cluster(sim, sh, 120s));
    const NodeId master0 = sim.core(0).state().myself_id();
    const NodeId master1 = sim.core(1).state().myself_id();
    // A forged PING and UPDATE in master 1's name reach every other node on a link of their own.
    for (std::size_t i = 0; i < sim.size(); ++i) {
        if (i == 1) continue;
        auto& core = sim.core(i);
        const LinkId link = LinkId::inbound(900000 + i);
        core.on_inbound_link(link, sim.ip(1), sim.ip(i));
        Message ping;
        ping.header.type = MessageType::Ping;
        ping.header.sender = master1;
        ping.header.port = sim.port(1);
        ping.header.cport = sim.bus_port(1);
        ping.header.flags = node_flag::kMaster;
        ping.header.current_epoch = std::numeric_limits<Epoch>::max();
        ping.header.config_epoch = std::numeric_limits<Epoch>::max();
        ping.header.myslots.set_range(0, kSlotCount - 1);
        ping.body = GossipBody{};
        core.on_message(link, ping);
        Message update = ping;
        update.header.type = MessageType::Update;
        update.header.current_epoch = 3;
        update.header.config_epoch = 2;
        UpdateBody body{std::numeric_limits<Epoch>::max(), master1, {}};
        body.slots.set_range(0, kSlotCount - 1);
        update.body = body;
        core.on_message(link, update);
    }
    sim.run_for(2s);
    for (std::size_t i = 0; i < sim.size(); ++i) {
        CHECK(sim.core(i).state().current_epoch() < kEpochLimit);
        const auto owner = sim.core(i).state().slot_owner(0);
        CHECK((owner && owner->id() == master0));
    }
    // What was saved is what a restart loads: restart every node, one at a time.
    for (std::size_t i = 0; i < sim.size(); ++i) {
        sim.crash(i);
        sim.restart(i);
        REQUIRE(sim.run_until([&] { return cluster_converged(sim); }, 30s));
        CHECK(sim.core(i).state().current_epoch() < kEpochLimit);
    }
    // And the cluster can still elect a new master.
    const std::size_t heir = replica_index(sh, 0, 0);
    sim.crash(0);
    REQUIRE(sim.run_until([&] { return failed_over(sim, master0); }, 20s));
    CHECK(sim.core(heir).state().myself().is_master());
    CHECK(sim.core(heir).state().slot_owner(0)->id() == sim.core(heir).state().myself_id());
}

TEST_CASE("[forget] with hundreds of forgotten nodes and long names every message decodes",
          "[scenario]") {
    // Three masters. Node 0 starts from a nodes.conf that also lists 300 replicas that are
    // gone; it forgets them, in random order and between random operations.
    constexpr std::size_t kReal = 3;
    constexpr std::size_t kGone = 300;
    std::vector<NodeId> ids;
    for (std::size_t j = 0; j < kReal + kGone; ++j)
        ids.push_back(*NodeId::parse(fmt::format("{:040x}", 0x5eed000 + j)));
    auto ip_of = [](std::size_t j) {
        return j < kReal ? SimCluster::ip_for(j) : fmt::format("10.99.{}.{}", j / 200, j % 200 + 1);
    };
    SimCluster sim({.seed = 223});
    for (std::size_t i = 0; i < kReal; ++i) {
        Config c;
        c.node_timeout = Duration{2000};
        c.announce_hostname = std::string(kHostnameMaxLen - i, static_cast<char>('a' + i));
        c.human_nodename = std::string(kHostnameMaxLen, static_cast<char>('A' + i));
        const std::vector<NodeId> known =
            i == 0 ? ids : std::vector<NodeId>(ids.begin(), ids.begin() + kReal);
        sim.add_node(c, stored_cluster_view(i, known, kReal, ip_of, SimCluster::kClientPort,
                                            SimCluster::kClientPort + kBusPortIncrement));
    }
    // Not converged in the helper's sense: only node 0 lists the gone nodes.
    REQUIRE(sim.run_until(
        [&] {
            for (std::size_t i = 0; i < kReal; ++i)
                if (!sim.core(i).state().cluster_ok()) return false;
            return true;
        },
        30s));

    detail::Prng prng(229);
    std::vector<std::size_t> gone;
    for (std::size_t j = kReal; j < kReal + kGone; ++j)
        gone.push_back(j);
    while (!gone.empty()) {
        switch (prng.below(4)) {
            case 0:
                sim.run_for(Duration{prng.between(1, 500)});
                break;
            case 1: {
                const std::string message(prng.below(64 * 1024), 'm');
                REQUIRE(sim.core(prng.below(kReal))
                            .command([&](auto& st, Now n, Output& o) {
                                return st.publish(n, "ch", message, false, o);
                            })
                            .ok);
                break;
            }
            default: {
                // Forget a few at once.
                for (int k = 0; k < 5 && !gone.empty(); ++k) {
                    const std::size_t pick = prng.below(gone.size());
                    REQUIRE(sim.core(0).forget(ids[gone[pick]].view()).ok);
                    gone.erase(gone.begin() + static_cast<std::ptrdiff_t>(pick));
                }
                break;
            }
        }
    }
    // Within the blacklist time: nobody fails node 0 for its long PINGs, nobody knows the gone.
    sim.run_for(20s);
    CHECK(sim.codec_errors().empty());
    if (!sim.codec_errors().empty()) FAIL_CHECK(sim.codec_errors().front());
    CHECK(cluster_converged(sim));
    CHECK(failed_by(sim, ids[0]) == 0);
    for (std::size_t i = 0; i < kReal; ++i) {
        CHECK(sim.core(i).state().node_count() == kReal);
        for (std::size_t j = 0; j < kReal; ++j)
            CHECK(sim.core(i).state().find(ids[j])->hostname() ==
                  std::string(kHostnameMaxLen - j, static_cast<char>('a' + j)));
    }
}

}  // namespace scenario_peer_input_test
