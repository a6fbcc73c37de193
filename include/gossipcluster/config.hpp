// Config: every timing constant and limit of the protocol, validated at construction.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include <fmt/format.h>

#include "gossipcluster/bus_limits.hpp"
#include "gossipcluster/time.hpp"
#include "gossipcluster/types.hpp"

namespace gossipcluster {

class ConfigError : public std::invalid_argument {
  public:
    using std::invalid_argument::invalid_argument;
};

struct Config {
    // Seed of the core's PRNG (node names, gossip picks, election delays). Same seed, same run.
    std::uint64_t seed = 1;

    // Identity and addresses this node announces.
    std::uint16_t port = 6379;  // client port
    std::uint16_t cport = 0;    // bus port; 0 means port + 10000
    std::uint16_t pport = 0;    // secondary client port (TLS/plain), 0 if none
    std::string announce_ip;    // empty: peers use the socket address
    std::string announce_hostname;
    std::string human_nodename;

    // Timing (Redis 7.0 defaults).
    Duration node_timeout{15000};
    Duration cron_period{100};
    Duration handshake_timeout{0};  // 0: max(node_timeout, 1000 ms)
    Duration random_ping_period{1000};
    std::size_t random_ping_samples = 5;
    // In a cluster of at most this many nodes, skip the random ping when a PING went out or came
    // in during the last random_ping_period: that exchange already carried gossip both ways, and
    // at small N the random ping is most of the traffic. In larger clusters the random ping's
    // gossip refreshes the pong times other nodes keep of us, which saves them more due pings
    // than it costs (measured crossover: about 50 nodes). 0: always send it, as Redis does.
    std::size_t random_ping_quiet_skip_max_nodes = 40;
    // Pings due to peers (and the checks of links that went quiet) wait for the next multiple
    // of this window, so that one wake-up serves every peer due within it, as Redis's 10 Hz
    // cron does; PFAIL deadlines stay exact. 0: max(cron_period, node_timeout / 32).
    Duration ping_batch_window{0};
    // In a cluster of at most this many nodes the batch grid is set by the wall clock, the same
    // instants on every node: all nodes ping together and the answers arrive together, so a node
    // handles several messages per wake-up (30 nodes at timeout 3000: 12 wake-ups a second
    // instead of 19). In a larger cluster every window already holds many due pings, and
    // staggered grids (counted from each node's start) let the gossip of one node's pings spare
    // others theirs: at 1000 nodes a shared grid sent a fifth more messages, and a restart of the
    // whole cluster sent its first pings in one burst. 0: never shared.
    std::size_t ping_grid_sync_max_nodes = 40;
    Duration blacklist_ttl{60000};
    std::uint64_t fail_report_validity_mult = 2;
    std::uint64_t fail_undo_time_mult = 2;
    // Elections. A replica asks for votes base + random(0..jitter) + rank x rank_delay after its
    // master is FAIL (Redis: 500 + random(0..500) + rank x 1000 ms). FAIL reaches every node in
    // one broadcast, so the long base wait buys nothing; ranks are unique (ties broken by name),
    // so rank_delay only has to cover one vote round trip.
    Duration election_base_delay{50};
    Duration election_jitter{50};
    Duration election_rank_delay{250};
    std::uint64_t vote_debounce_mult = 2;  // no second vote for one master within mult x timeout
    std::uint64_t replica_validity_factor = 10;
    Duration repl_ping_period{10000};
    bool replica_no_failover = false;
    Duration writable_delay{2000};  // a fresh master waits this long before turning ok
    bool require_full_coverage = true;

    // Gossip sections: max(gossip_min_entries, N / gossip_divisor) entries plus PFAIL nodes.
    std::size_t gossip_min_entries = 3;
    std::size_t gossip_divisor = 10;
    std::size_t max_pfail_gossip = 64;
    // Fresh news (new node, changed flags or address) rides in this many gossip sections before
    // random picks; 0 means ceil(log2(N)) + 1.
    std::size_t news_sends = 0;
    // On news, ping this many random peers at once instead of waiting for the next ping.
    std::size_t news_push_fanout = 3;
    // A master that starts suspecting a node pings this many peers chosen from the suspect's
    // name (the same peers on every node), so that the failure reports of all masters meet at
    // a few nodes instead of trickling in with random gossip; 0 turns it off.
    std::size_t failure_report_collectors = 3;

    // Redis 7.0 sends its hostname extension to every peer and forgets a peer's hostname when a
    // PING or PONG comes without one, so by default every peer gets ours (and a peer that is not
    // known to read more gets nothing else). Set this in a cluster with pre-7.0 nodes, which drop
    // frames with extensions: then only peers that set EXT_DATA get any, and a Redis 7.0 node that
    // announces no hostname itself never shows ours.
    bool extensions_only_to_advertisers = false;

    // Largest channel + message (or module payload) we send over the bus. Receiving is bounded by
    // the transport's frame limit instead (kDefaultMaxFrameBytes, over 1 GiB by default): a Redis
    // peer forwards whatever its clients publish. The default stays small so that peers with a
    // smaller frame limit (earlier versions of this library took at most 1 MiB) still take ours.
    std::size_t max_publish_bytes = 512 * 1024;
    Duration manual_failover_timeout{5000};
    std::size_t migration_barrier = 1;
    bool allow_replica_migration = true;
    Duration migration_delay{5000};

    // Bounds against hostile peers.
    std::size_t max_nodes = 10000;
    std::size_t max_blacklist = 10000;

    std::uint16_t bus_port() const {
        return cport != 0 ? cport : static_cast<std::uint16_t>(port + kBusPortIncrement);
    }
    Duration effective_ping_batch_window() const {
        if (ping_batch_window.count() != 0) return ping_batch_window;
        return std::max(cron_period, node_timeout / 32);
    }
    Duration effective_handshake_timeout() const {
        if (handshake_timeout.count() != 0) return handshake_timeout;
        return std::max(node_timeout, Duration{1000});
    }

    // Throws ConfigError naming the first field that is out of range.
    void validate() const {
        auto fail = [](std::string_view field, std::string_view why) {
            throw ConfigError(fmt::format("invalid config: {} {}", field, why));
        };
        if (port == 0) fail("port", "must be 1..65535");
        if (cport == 0 && port > 65535 - kBusPortIncrement)
            fail("port", "must be <= 55535 when cport is derived as port + 10000");
        if (node_timeout.count() < 10) fail("node_timeout", "must be at least 10 ms");
        if (cron_period.count() < 1) fail("cron_period", "must be at least 1 ms");
        if (cron_period > node_timeout / 2) fail("cron_period", "must be at most node_timeout / 2");
        if (ping_batch_window.count() < 0 || ping_batch_window > node_timeout / 4)
            fail("ping_batch_window", "must be 0 (automatic) or at most node_timeout / 4");
        if (handshake_timeout.count() < 0) fail("handshake_timeout", "must not be negative");
        if (random_ping_period.count() < 1) fail("random_ping_period", "must be at least 1 ms");
        if (random_ping_samples == 0) fail("random_ping_samples", "must be at least 1");
        if (blacklist_ttl.count() < 1) fail("blacklist_ttl", "must be at least 1 ms");
        if (fail_report_validity_mult == 0) fail("fail_report_validity_mult", "must be >= 1");
        if (gossip_divisor == 0) fail("gossip_divisor", "must be >= 1");
        if (announce_ip.size() >= kIpFieldLen) fail("announce_ip", "is longer than 45 characters");
        if (announce_hostname.size() > kHostnameMaxLen)
            fail("announce_hostname", "is longer than 255 characters");
        // Peers ignore a hostname or human node name that nodes.conf could not carry.
        if (!valid_hostname(announce_hostname))
            fail("announce_hostname", "may only hold letters, digits, '-' and '.'");
        if (human_nodename.size() > kHostnameMaxLen)
            fail("human_nodename", "is longer than 255 characters");
        if (!valid_human_nodename(human_nodename))
            fail("human_nodename",
                 "may only hold visible ASCII other than ,=!#$%&()*+:;<>?@[]^{|}~");
        if (max_nodes < 2) fail("max_nodes", "must be at least 2");
        // A PING carrying the whole view lists every node but us and the receiver.
        if (max_nodes > kMaxGossipEntries + 1) fail("max_nodes", "must be at most 65536");
        if (election_base_delay.count() < 0) fail("election_base_delay", "must not be negative");
        if (election_jitter.count() < 0) fail("election_jitter", "must not be negative");
        if (election_rank_delay.count() < 0) fail("election_rank_delay", "must not be negative");
        if (repl_ping_period.count() < 0) fail("repl_ping_period", "must not be negative");
        if (writable_delay.count() < 0) fail("writable_delay", "must not be negative");
        if (manual_failover_timeout.count() < 1)
            fail("manual_failover_timeout", "must be at least 1 ms");
        if (migration_delay.count() < 0) fail("migration_delay", "must not be negative");
        if (max_publish_bytes == 0) fail("max_publish_bytes", "must be at least 1");
        if (max_publish_bytes > kMaxBusPayloadBytes)
            fail("max_publish_bytes", "must be at most 1 GiB (kMaxBusPayloadBytes)");
    }
};

}  // namespace gossipcluster
