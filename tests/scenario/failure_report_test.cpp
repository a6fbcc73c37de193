// When a suspected node becomes FAIL: failure reports fed to one ClusterState as its peers'
// gossip carries them, and the moment the quorum is reached.
#include <catch2/catch.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include <fmt/format.h>

#include <gossipcluster/cluster_state.hpp>
#include <gossipcluster/testing/cluster_setup.hpp>

namespace scenario_failure_report_test {

using namespace gossipcluster;

namespace {

// Five masters; we are node 0 and node 4 stops answering.
constexpr std::size_t kMasters = 5;
constexpr std::size_t kSuspect = 4;
constexpr std::int64_t kTimeout = 1000;

NodeId name_of(std::size_t i) {
    return *NodeId::parse(fmt::format("{:040x}", 0xfa1000 + i));
}

std::string ip_of(std::size_t i) {
    return fmt::format("10.3.0.{}", 1 + i);
}

Now at(std::int64_t ms) {
    return Now{Instant{ms}, 1'790'000'000'000ull + static_cast<std::uint64_t>(ms)};
}

LinkId inbound_of(std::size_t peer) {
    return LinkId::inbound(300 + peer);
}

// A PING from master `from`, reporting the suspect as PFAIL when `report` is set.
Message ping_from(std::size_t from, bool report) {
    Message m;
    Header& h = m.header;
    h.type = MessageType::Ping;
    h.sender = name_of(from);
    h.current_epoch = kMasters;
    h.config_epoch = from + 1;
    h.myslots.set_range(from * kSlotCount / kMasters, (from + 1) * kSlotCount / kMasters - 1);
    h.myip.assign(ip_of(from));
    h.port = 7000;
    h.cport = 17000;
    h.flags = node_flag::kMaster;
    GossipBody body;
    if (report) {
        GossipEntry g;
        g.node = name_of(kSuspect);
        g.ip.assign(ip_of(kSuspect));
        g.port = 7000;
        g.cport = 17000;
        g.flags = node_flag::kMaster | node_flag::kPfail;
        body.gossip.push_back(g);
    }
    m.body = std::move(body);
    return m;
}

bool announces_fail(const Output& out) {
    for (const Action& a : out.actions)
        if (const auto* send = std::get_if<action::Send>(&a);
            send && send->message.header.type == MessageType::Fail)
            return true;
    return false;
}

struct Fixture {
    Fixture() : st(config(), at(1), view()) {
        Output out;
        for (std::size_t j = 1; j < kMasters; ++j)
            st.on_inbound_link(now, inbound_of(j), ip_of(j), ip_of(0), out);
        bring_up(out);
    }
    static Config config() {
        Config c;
        c.node_timeout = Duration{kTimeout};
        c.port = 7000;
        c.cport = 17000;
        c.announce_ip = ip_of(0);
        return c;
    }
    static PersistedState view() {
        std::vector<NodeId> ids;
        for (std::size_t j = 0; j < kMasters; ++j)
            ids.push_back(name_of(j));
        return testing::stored_cluster_view(0, ids, kMasters, ip_of, 7000, 17000);
    }
    // Every link we open connects at once; the suspect never answers on it.
    void bring_up(const Output& out) {
        for (const Action& a : out.actions)
            if (const auto* c = std::get_if<action::Connect>(&a)) {
                Output more;
                st.on_link_up(now, c->link, more);
            }
    }
    // Time passes with masters 1..3 alive (node 1 reporting the suspect when asked).
    void run_until(std::int64_t end, bool node1_reports) {
        for (; now.mono.ms < end; now = at(now.mono.ms + 50)) {
            Output out;
            for (std::size_t j = 1; j < kSuspect; ++j)
                st.on_message(now, inbound_of(j), ping_from(j, j == 1 && node1_reports), out);
            st.tick(now, out);
            bring_up(out);
            saw_fail = saw_fail || announces_fail(out);
        }
    }
    NodeView suspect() const { return *st.find(name_of(kSuspect)); }

    Now now = at(1);
    ClusterState st;
    bool saw_fail = false;
};

}  // namespace

// Node 1's report plus our own suspicion are 2 of the 3 masters a quorum of 5 needs. Two masters
// are then forgotten: 3 masters remain and 2 is a quorum. No new reporter comes, only node 1's
// refreshed report, and that refresh alone must make the node FAIL, as Redis rechecks on every
// report. Checked only when a report was new, the node stayed PFAIL for good: the cron does
// not look again at a node it already suspects.
TEST_CASE("[failure] a refreshed report completes a quorum that shrank", "[scenario][failure]") {
    Fixture f;
    f.run_until(3 * kTimeout, true);
    REQUIRE(f.suspect().timed_out());
    REQUIRE_FALSE(f.suspect().failing());
    CHECK(f.st.valid_failure_reports(f.now, name_of(kSuspect)) == 1);

    Output out;
    REQUIRE(f.st.forget(f.now, name_of(2).view(), out).ok);
    REQUIRE(f.st.forget(f.now, name_of(3).view(), out).ok);
    f.run_until(f.now.mono.ms + 50, false);  // no report: nothing to decide on
    CHECK_FALSE(f.suspect().failing());
    f.run_until(f.now.mono.ms + 50, true);
    CHECK(f.suspect().failing());
    CHECK(f.saw_fail);
}

}  // namespace scenario_failure_report_test
