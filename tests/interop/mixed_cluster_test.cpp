// Interop: clusters mixing real redis-server 7.0 processes and gossipcluster-kvserver processes:
// membership, the CLUSTER NODES format, hostnames, FORGET, restart, and how fast a new node
// spreads.
#include <catch2/catch.hpp>

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "process_harness.hpp"

namespace interop_mixed_cluster_test {

using namespace gossipcluster::interop_test;
using namespace std::chrono_literals;

namespace {

// Every wait on the cluster is bounded by this.
constexpr auto kConvergeLimit = 30s;
constexpr auto kPollEvery = 100ms;
// How long a cluster that already converged may take to settle again after a link was rebuilt.
constexpr auto kSettleLimit = 5s;

using Servers = std::vector<ClusterServer*>;

bool all_digits(std::string_view s) {
    return !s.empty() && s.size() <= 20 &&
           std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool valid_node_id(std::string_view s) {
    return s.size() == 40 && std::all_of(s.begin(), s.end(), [](char c) {
               return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z');
           });
}

// One line of CLUSTER NODES, split on spaces.
struct NodeLine {
    std::string raw;
    std::vector<std::string> fields;

    const std::string& id() const { return fields[0]; }
    const std::string& address() const { return fields[1]; }
    const std::string& flags() const { return fields[2]; }
    const std::string& master() const { return fields[3]; }
    const std::string& ping_sent() const { return fields[4]; }
    const std::string& pong_received() const { return fields[5]; }
    const std::string& config_epoch() const { return fields[6]; }
    const std::string& link() const { return fields[7]; }
    bool has_flag(std::string_view f) const {
        for (const auto& word : split(flags(), ','))
            if (word == f) return true;
        return false;
    }
    bool connected_member() const { return link() == "connected" && !has_flag("handshake"); }
    // The flags another node would print for this node: without "myself".
    std::string flags_seen_from_outside() const {
        std::string out;
        for (const auto& word : split(flags(), ','))
            if (word != "myself") out += (out.empty() ? "" : ",") + word;
        return out;
    }
};

// A node's CLUSTER NODES reply, its text and its lines (lines with fewer than 8 fields dropped;
// check_nodes_format reports them).
struct NodesView {
    std::string text;
    std::vector<NodeLine> lines;

    const NodeLine* find(std::string_view id) const {
        for (const auto& l : lines)
            if (l.id() == id) return &l;
        return nullptr;
    }
    const NodeLine* myself() const {
        for (const auto& l : lines)
            if (l.has_flag("myself")) return &l;
        return nullptr;
    }
};

NodesView parse_nodes(std::string text) {
    NodesView v;
    v.text = std::move(text);
    std::string_view body = v.text;
    if (!body.empty() && body.back() == '\n') body.remove_suffix(1);
    if (body.empty()) return v;
    for (auto& l : split(body, '\n')) {
        NodeLine line;
        line.fields = split(l, ' ');
        line.raw = std::move(l);
        if (line.fields.size() >= 8) v.lines.push_back(std::move(line));
    }
    return v;
}

std::optional<NodesView> nodes_view(ClusterServer& s) {
    auto r = s.call({"CLUSTER", "NODES"});
    if (!r || !r->is_bulk()) return std::nullopt;
    return parse_nodes(r->text);
}

std::string my_id(ClusterServer& s) {
    auto r = s.call({"CLUSTER", "MYID"});
    return r && r->is_bulk() ? r->text : std::string();
}

// Problems with `text` as a Redis 7.0 CLUSTER NODES reply: every line ends in "\n", 8 fields
// plus slots, a 40-character id, "ip:port@cport[,hostname]", flag words from Redis's table in
// its order, "-" or an id as master, decimal ping/pong/epoch, connected|disconnected, exactly
// one "myself". Empty when there are none.
std::string check_nodes_format(const std::string& text) {
    static constexpr std::array<std::string_view, 8> kFlagOrder{
        "myself", "master", "slave", "fail?", "fail", "handshake", "noaddr", "nofailover"};
    std::string problems;
    auto problem = [&](std::string_view line, std::string_view what) {
        problems += fmt::format("  {}: '{}'\n", what, line);
    };
    if (text.empty() || text.back() != '\n') problem(text, "reply does not end in \\n");
    if (text.find('\r') != std::string::npos) problem(text, "reply holds \\r");
    std::string_view body = text;
    if (!body.empty() && body.back() == '\n') body.remove_suffix(1);
    int myself = 0;
    for (const auto& line : split(body, '\n')) {
        const auto f = split(line, ' ');
        if (f.size() < 8) {
            problem(line, "fewer than 8 fields");
            continue;
        }
        if (!valid_node_id(f[0])) problem(line, "bad node id");

        // ip:port@cport[,hostname]
        std::string_view addr = f[1];
        const auto comma = addr.find(',');
        if (comma != std::string_view::npos) {
            const auto host = addr.substr(comma + 1);
            if (host.empty() || host.find_first_of(", ") != std::string_view::npos)
                problem(line, "bad hostname part");
            addr = addr.substr(0, comma);
        }
        const auto at = addr.find('@');
        const auto colon = addr.rfind(':', at);
        if (at == std::string_view::npos || colon == std::string_view::npos) {
            problem(line, "address is not ip:port@cport");
        } else {
            const std::string ip(addr.substr(0, colon));
            in_addr a4{};
            in6_addr a6{};
            if (!ip.empty() && ::inet_pton(AF_INET, ip.c_str(), &a4) != 1 &&
                ::inet_pton(AF_INET6, ip.c_str(), &a6) != 1)
                problem(line, "address has a bad ip");
            const auto port = addr.substr(colon + 1, at - colon - 1);
            const auto cport = addr.substr(at + 1);
            if (!all_digits(port) || std::stoul(std::string(port)) > 65535 || !all_digits(cport) ||
                std::stoul(std::string(cport)) > 65535)
                problem(line, "address has a bad port");
        }

        // Flags: known words, in Redis's order, each once; or "noflags" alone.
        if (f[2] != "noflags") {
            std::size_t next = 0;
            for (const auto& word : split(f[2], ',')) {
                const auto it = std::find(kFlagOrder.begin(), kFlagOrder.end(), word);
                if (it == kFlagOrder.end()) {
                    problem(line, fmt::format("unknown flag '{}'", word));
                    continue;
                }
                const auto index = static_cast<std::size_t>(it - kFlagOrder.begin());
                if (index < next) problem(line, "flags out of Redis's order or repeated");
                next = index + 1;
                if (word == "myself") ++myself;
            }
        }
        if (f[3] != "-" && !valid_node_id(f[3])) problem(line, "master is neither - nor an id");
        if (!all_digits(f[4]) || !all_digits(f[5]) || !all_digits(f[6]))
            problem(line, "ping-sent, pong-recv or config-epoch is not a decimal number");
        if (f[7] != "connected" && f[7] != "disconnected") problem(line, "bad link state");
        for (std::size_t i = 8; i < f.size(); ++i) {
            const auto range = split(f[i], '-');
            const bool ok = (range.size() == 1 || range.size() == 2) &&
                            std::all_of(range.begin(), range.end(), [](const std::string& s) {
                                return all_digits(s) && std::stoul(s) < 16384;
                            });
            if (!ok) problem(line, fmt::format("bad slot field '{}'", f[i]));
        }
    }
    if (myself != 1) problem(text, fmt::format("{} lines flagged myself", myself));
    return problems;
}

// Timestamps are milliseconds of Unix time, as Redis prints them; 0 means none.
bool plausible_unix_ms(const std::string& field, bool zero_allowed) {
    if (!all_digits(field)) return false;
    const auto value = std::stoull(field);
    if (value == 0) return zero_allowed;
    const auto now =
        static_cast<unsigned long long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                            std::chrono::system_clock::now().time_since_epoch())
                                            .count());
    return value + 120'000 >= now && value <= now + 5'000;
}

// `view` lists exactly the nodes `ids`, all connected and out of handshake.
bool full_mesh(const std::optional<NodesView>& view, const std::set<std::string>& ids) {
    if (!view || view->lines.size() != ids.size()) return false;
    for (const auto& l : view->lines)
        if (ids.count(l.id()) == 0 || !l.connected_member()) return false;
    return true;
}

// Every server lists exactly the nodes `ids`, all connected and out of handshake.
bool full_mesh(const Servers& servers, const std::set<std::string>& ids) {
    for (auto* s : servers)
        if (!full_mesh(nodes_view(*s), ids)) return false;
    return true;
}

// Every server's CLUSTER NODES and the end of its log, for failure messages.
std::string dump(const Servers& servers) {
    std::string out;
    for (auto* s : servers) {
        std::string nodes = "(no reply)";
        if (auto r = s->call({"CLUSTER", "NODES"}, 2s)) nodes = r->show();
        out += fmt::format("=== {} pid {} CLUSTER NODES:\n{}\n{}\n", s->name(), s->pid(), nodes,
                           s->log_tail(25));
    }
    return out;
}

std::string meet(ClusterServer& from, const ClusterServer& to) {
    auto r = from.call({"CLUSTER", "MEET", "127.0.0.1", std::to_string(to.port())});
    return r ? r->show() : "(no reply)";
}

// Ids of the servers by CLUSTER MYID, each checked.
std::set<std::string> ids_of(const Servers& servers) {
    std::set<std::string> ids;
    for (auto* s : servers) {
        const std::string id = my_id(*s);
        CAPTURE(s->name(), id);
        REQUIRE(valid_node_id(id));
        ids.insert(id);
    }
    REQUIRE(ids.size() == servers.size());
    return ids;
}

// Waits (bounded) for a full mesh of `servers`; on failure, shows every node's view and log.
void require_full_mesh(const Servers& servers, const std::set<std::string>& ids) {
    const bool joined =
        wait_until(kConvergeLimit, kPollEvery, [&] { return full_mesh(servers, ids); });
    if (!joined) {
        INFO(dump(servers));
        REQUIRE(joined);
    }
}

// Every server's view, taken one after the other; nullopt if one does not answer.
std::optional<std::vector<NodesView>> views_of(const Servers& servers) {
    std::vector<NodesView> views;
    for (auto* s : servers) {
        auto view = nodes_view(*s);
        if (!view) return std::nullopt;
        views.push_back(std::move(*view));
    }
    return views;
}

// Each node's config epoch as its myself line prints it, if every view prints that same epoch
// for it; nullopt while some view lags (epochs move while collisions are resolved).
std::optional<std::map<std::string, std::string>> agreed_epochs(
    const std::vector<NodesView>& views) {
    std::map<std::string, std::string> own;
    for (const auto& view : views) {
        if (!view.myself()) return std::nullopt;
        own[view.myself()->id()] = view.myself()->config_epoch();
    }
    for (const auto& view : views)
        for (const auto& l : view.lines)
            if (own.count(l.id()) == 0 || own[l.id()] != l.config_epoch()) return std::nullopt;
    return own;
}

std::optional<std::map<std::string, std::string>> agreed_epochs(const Servers& servers) {
    auto views = views_of(servers);
    return views ? agreed_epochs(*views) : std::nullopt;
}

std::vector<std::unique_ptr<ClusterServer>> start_servers(ServerKind kind, int count,
                                                          const fs::path& dir,
                                                          std::vector<std::string> extra = {}) {
    std::vector<std::unique_ptr<ClusterServer>> out;
    for (int i = 0; i < count; ++i)
        out.push_back(std::make_unique<ClusterServer>(kind, dir, extra));
    return out;
}

template <typename... Groups>
Servers all_of(Groups&... groups) {
    Servers out;
    (..., [&](auto& g) {
        for (auto& s : g)
            out.push_back(s.get());
    }(groups));
    return out;
}

}  // namespace

TEST_CASE("[mixed] the CLUSTER NODES format check knows redis-server's output",
          "[interop][mixed]") {
    // Lines printed by redis-server 7.0.15 (reference/reply-samples.txt).
    const std::string redis_sample =
        "9c429edd608657366c136fa4c85130923db6cbb9 127.0.0.1:30502@40502 master - 0 1795316525000 "
        "3 connected 10923-16383\n"
        "b93c8673c83a1f8aadcf25d0b8204837277b90fc 127.0.0.1:30500@40500 myself,master - 0 "
        "1795316526000 1 connected 1-5460\n"
        "ca7dd988bdb7db78d1a3d974d409888aacfcf1e0 127.0.0.1:30501@40501,node-1.test master,fail - "
        "1795316519907 1795316517395 7 disconnected 0 5461-10922\n"
        "946fa60463aa3e42227cf740d03a65181276daf2 127.0.0.1:30505@40505 slave,fail "
        "ca7dd988bdb7db78d1a3d974d409888aacfcf1e0 1795316518400 1795316516000 7 disconnected\n";
    CHECK(check_nodes_format(redis_sample) == "");
    CHECK(check_nodes_format("b93c8673c83a1f8aadcf25d0b8204837277b90fc :30500@40500 "
                             "myself,master - 0 0 0 connected\n") == "");

    const std::string self = "b93c8673c83a1f8aadcf25d0b8204837277b90fc 127.0.0.1:30500@40500 ";
    const std::vector<std::string> bad{
        self + "myself,master - 0 0 0 connected",           // no final \n
        self + "myself,master - 0 0 0 connected\r\n",       // \r
        self + "myself,master - 0 0 connected\n",           // 7 fields
        self + "master,myself - 0 0 0 connected\n",         // order
        self + "myself,primary - 0 0 0 connected\n",        // not Redis's word
        self + "myself,master,master - 0 0 0 connected\n",  // repeated
        self + "myself,master 0 0 0 0 connected\n",         // master field
        self + "myself,master - -1 0 0 connected\n",        // ping
        self + "myself,master - 0 0 x connected\n",         // epoch
        self + "myself,master - 0 0 0 up\n",                // link
        self + "myself,master - 0 0 0 connected 16384\n",   // slot
        self + "master - 0 0 0 connected\n",                // no myself
        "b93c8673c83a1f8aadcf25d0b8204837277b90fc 127.0.0.1:30500 myself,master - 0 0 0 "
        "connected\n",  // no @cport
        "b93c8673c83a1f8aadcf25d0b8204837277b90f 127.0.0.1:30500@40500 myself,master - 0 0 0 "
        "connected\n",  // 39-character id
    };
    for (const auto& text : bad) {
        CAPTURE(text);
        CHECK(check_nodes_format(text) != "");
    }
}

TEST_CASE("[mixed] 3 redis-server and 3 kvserver nodes form one cluster", "[interop][mixed]") {
    TempDir tmp("gossipcluster-mixed");
    auto redis = start_servers(ServerKind::kRedis, 3, tmp.path());
    auto kv = start_servers(ServerKind::kKv, 3, tmp.path());
    const Servers all = all_of(redis, kv);
    std::map<std::string, std::string> id_of;
    for (auto* s : all)
        id_of[s->name()] = my_id(*s);
    const auto ids = ids_of(all);

    // A chain k0 - r0 - k1 - r1 - k2 - r2, MEETs sent by both kinds.
    const std::vector<std::pair<ClusterServer*, ClusterServer*>> meets{
        {redis[0].get(), kv[0].get()},
        {kv[1].get(), redis[0].get()},
        {redis[1].get(), kv[1].get()},
        {kv[2].get(), redis[1].get()},
        {redis[2].get(), kv[2].get()}};
    for (const auto& [from, to] : meets) {
        CAPTURE(from->name(), to->name());
        CHECK(meet(*from, *to) == "OK");
    }
    require_full_mesh(all, ids);
    // Fresh masters all start at config epoch 0 and move apart while the views are taken: the
    // checks below use one set of views that agree on every node's epoch.
    std::vector<NodesView> agreed;
    const bool settled = wait_until(kConvergeLimit, kPollEvery, [&] {
        auto views = views_of(all);
        if (!views || !agreed_epochs(*views)) return false;
        agreed = std::move(*views);
        return true;
    });
    INFO((settled ? std::string() : dump(all)));
    REQUIRE(settled);

    // Every node: the Redis format, its own id on its myself line, everyone's address.
    std::map<std::string, NodesView> views;
    for (std::size_t i = 0; i < all.size(); ++i) {
        ClusterServer* s = all[i];
        const NodesView& view = agreed[i];
        CAPTURE(s->name(), view.text);
        CHECK(check_nodes_format(view.text) == "");
        REQUIRE(view.myself());
        CHECK(view.myself()->id() == id_of[s->name()]);
        CHECK(view.myself()->flags() == "myself,master");
        CHECK(view.lines.size() == all.size());
        for (auto* other : all) {
            const NodeLine* line = view.find(id_of[other->name()]);
            REQUIRE(line);
            CAPTURE(line->raw);
            CHECK(line->fields.size() == 8);  // no slots
            CHECK(line->address() ==
                  fmt::format("127.0.0.1:{}@{}", other->port(), other->bus_port()));
            CHECK(line->master() == "-");
            CHECK(line->link() == "connected");
            CHECK(line->has_flag("master"));
            CHECK(line->has_flag("myself") == (other == s));
            if (other != s) {
                CHECK(plausible_unix_ms(line->ping_sent(), true));
                CHECK(plausible_unix_ms(line->pong_received(), false));
            }
        }
        views[s->name()] = view;
    }

    // What a kvserver prints about a node is what a redis-server prints about it, but for the
    // ping/pong times.
    for (auto* subject : all) {
        const std::string id = id_of[subject->name()];
        for (auto* r : Servers{redis[0].get(), redis[1].get(), redis[2].get()}) {
            for (auto* k : Servers{kv[0].get(), kv[1].get(), kv[2].get()}) {
                if (r == subject || k == subject) continue;
                const NodeLine* by_redis = views[r->name()].find(id);
                const NodeLine* by_kv = views[k->name()].find(id);
                REQUIRE(by_redis);
                REQUIRE(by_kv);
                CAPTURE(subject->name(), r->name(), k->name(), by_redis->raw, by_kv->raw);
                CHECK(by_kv->fields.size() == by_redis->fields.size());
                CHECK(by_kv->address() == by_redis->address());
                CHECK(by_kv->flags() == by_redis->flags());
                CHECK(by_kv->master() == by_redis->master());
                CHECK(by_kv->config_epoch() == by_redis->config_epoch());
                CHECK(by_kv->link() == by_redis->link());
            }
        }
        // And about itself, as redis-server does about itself.
        const NodeLine* self = views[subject->name()].myself();
        const NodeLine* redis_self = views[redis[0]->name()].myself();
        REQUIRE(self);
        REQUIRE(redis_self);
        CHECK(self->fields.size() == redis_self->fields.size());
        CHECK(self->flags() == redis_self->flags());
    }
}

TEST_CASE("[mixed] an announced hostname shows on the other kind of node", "[interop][mixed]") {
    TempDir tmp("gossipcluster-mixed");
    ClusterServer redis(ServerKind::kRedis, tmp.path(),
                        {"--cluster-announce-hostname", "redis-h.test"});
    ClusterServer kv(ServerKind::kKv, tmp.path(), {"--cluster-announce-hostname", "kv-h.test"});
    const Servers all{&redis, &kv};
    const std::string redis_id = my_id(redis);
    const std::string kv_id = my_id(kv);
    CHECK(meet(redis, kv) == "OK");
    require_full_mesh(all, ids_of(all));

    const std::string redis_addr =
        fmt::format("127.0.0.1:{}@{},redis-h.test", redis.port(), redis.bus_port());
    const std::string kv_addr = fmt::format("127.0.0.1:{}@{},kv-h.test", kv.port(), kv.bus_port());
    // The hostname comes with the first ping extension after the handshake.
    const bool shown = wait_until(kConvergeLimit, kPollEvery, [&] {
        auto rv = nodes_view(redis);
        auto kvv = nodes_view(kv);
        if (!rv || !kvv) return false;
        const NodeLine* kv_at_redis = rv->find(kv_id);
        const NodeLine* redis_at_kv = kvv->find(redis_id);
        return kv_at_redis && redis_at_kv && kv_at_redis->address() == kv_addr &&
               redis_at_kv->address() == redis_addr;
    });
    INFO((shown ? std::string() : dump(all)));
    CHECK(shown);

    for (auto* s : all) {
        auto view = nodes_view(*s);
        REQUIRE(view);
        CAPTURE(s->name(), view->text);
        CHECK(check_nodes_format(view->text) == "");
        const NodeLine* r = view->find(redis_id);
        const NodeLine* k = view->find(kv_id);
        REQUIRE(r);
        REQUIRE(k);
        // Both kinds print their own hostname on their myself line too.
        CHECK(r->address() == redis_addr);
        CHECK(k->address() == kv_addr);
    }
}

TEST_CASE("[mixed] CLUSTER FORGET on both kinds removes a stopped node for good",
          "[interop][mixed]") {
    TempDir tmp("gossipcluster-mixed");
    auto redis = start_servers(ServerKind::kRedis, 2, tmp.path());
    auto kv = start_servers(ServerKind::kKv, 2, tmp.path());
    const Servers all = all_of(redis, kv);
    const auto ids = ids_of(all);
    CHECK(meet(*redis[0], *kv[0]) == "OK");
    CHECK(meet(*kv[1], *redis[0]) == "OK");
    CHECK(meet(*kv[0], *redis[1]) == "OK");
    require_full_mesh(all, ids);

    ClusterServer* gone = nullptr;
    SECTION("a stopped kvserver") {
        gone = kv[1].get();
    }
    SECTION("a stopped redis-server") {
        gone = redis[1].get();
    }
    REQUIRE(gone);
    const std::string gone_id = my_id(*gone);
    Servers rest;
    for (auto* s : all)
        if (s != gone) rest.push_back(s);

    gone->stop();
    for (auto* s : rest) {
        auto r = s->call({"CLUSTER", "FORGET", gone_id});
        CAPTURE(s->name());
        REQUIRE(r);
        CHECK(r->show() == "OK");
    }

    // For 5 s, gossip from the others must not bring it back anywhere; nor while the rest are
    // then awaited (bounded) as a full mesh of themselves: a link being rebuilt at one moment is
    // no failure, so one snapshot does not decide that.
    std::set<std::string> rest_ids = ids;
    rest_ids.erase(gone_id);
    std::vector<std::string> seen_again;
    const auto start = std::chrono::steady_clock::now();
    // One look at every remaining node: notes a sighting of the forgotten node, and returns
    // whether the rest are a full mesh of exactly themselves.
    auto look = [&] {
        bool mesh = true;
        for (auto* s : rest) {
            const auto view = nodes_view(*s);
            const NodeLine* l = view ? view->find(gone_id) : nullptr;
            if (l)
                seen_again.push_back(
                    fmt::format("{} after {} ms: {}", s->name(),
                                std::chrono::duration_cast<std::chrono::milliseconds>(
                                    std::chrono::steady_clock::now() - start)
                                    .count(),
                                l->raw));
            mesh = full_mesh(view, rest_ids) && mesh;
        }
        return mesh;
    };
    while (std::chrono::steady_clock::now() - start < 5s) {
        look();
        std::this_thread::sleep_for(250ms);
    }
    const bool clean = wait_until(kSettleLimit, kPollEvery, look);
    {
        std::string list;
        for (const auto& s : seen_again)
            list += s + "\n";
        INFO((seen_again.empty() ? std::string()
                                 : fmt::format("the forgotten node {} came back:\n{}{}", gone_id,
                                               list, dump(rest))));
        CHECK(seen_again.empty());
    }
    INFO((clean ? std::string() : dump(rest)));
    CHECK(clean);
}

TEST_CASE("[mixed] a kvserver restarted from its nodes.conf rejoins with its id",
          "[interop][mixed]") {
    TempDir tmp("gossipcluster-mixed");
    auto redis = start_servers(ServerKind::kRedis, 2, tmp.path());
    auto kv = start_servers(ServerKind::kKv, 2, tmp.path());
    const Servers all = all_of(redis, kv);
    const auto ids = ids_of(all);
    CHECK(meet(*redis[0], *kv[0]) == "OK");
    CHECK(meet(*kv[1], *redis[0]) == "OK");
    CHECK(meet(*kv[0], *redis[1]) == "OK");
    require_full_mesh(all, ids);

    ClusterServer& node = *kv[0];
    const std::string id = my_id(node);
    const int status = node.stop();
    INFO(node.log_tail());
    CHECK(describe_status(status) == "exit status 0");
    const std::string conf = read_file(node.config_path());
    CAPTURE(conf);
    CHECK(conf.find(fmt::format("{} 127.0.0.1:{}@{} myself,master", id, node.port(),
                                node.bus_port())) != std::string::npos);

    // The others notice it is gone before it comes back.
    const Servers others{redis[0].get(), redis[1].get(), kv[1].get()};
    const bool noticed = wait_until(kConvergeLimit, kPollEvery, [&] {
        for (auto* s : others) {
            auto view = nodes_view(*s);
            const NodeLine* l = view ? view->find(id) : nullptr;
            if (!l || l->link() != "disconnected") return false;
        }
        return true;
    });
    INFO((noticed ? std::string() : dump(others)));
    CHECK(noticed);

    node.start();
    CHECK(my_id(node) == id);
    require_full_mesh(all, ids);
    auto view = nodes_view(node);
    REQUIRE(view);
    CAPTURE(view->text);
    CHECK(check_nodes_format(view->text) == "");
    REQUIRE(view->myself());
    CHECK(view->myself()->id() == id);
    for (auto* s : others) {
        auto v = nodes_view(*s);
        REQUIRE(v);
        const NodeLine* l = v->find(id);
        REQUIRE(l);
        CAPTURE(s->name(), l->raw);
        CHECK(l->address() == fmt::format("127.0.0.1:{}@{}", node.port(), node.bus_port()));
        CHECK(l->flags() == "master");
    }
}

namespace {

struct Spread {
    bool complete = false;
    double all_ms = 0;           // until every node lists the new one connected
    double median_ms = 0;        // until half of them do
    double new_sees_all_ms = 0;  // until the new node lists every other one connected
};

// MEETs a new node through `via` and polls every node's CLUSTER NODES every ~20 ms until all
// list it connected and out of handshake (bounded).
Spread measure_spread(ClusterServer& via, ClusterServer& fresh, const Servers& cluster) {
    const std::string id = my_id(fresh);
    Servers everyone = cluster;
    everyone.push_back(&fresh);
    std::vector<std::optional<double>> seen_at(everyone.size());
    std::optional<double> new_sees_all;
    std::set<std::string> cluster_ids;
    for (auto* s : cluster)
        cluster_ids.insert(my_id(*s));

    const auto t0 = std::chrono::steady_clock::now();
    auto elapsed_ms = [&] {
        return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
            .count();
    };
    Spread out;
    if (meet(via, fresh) != "OK") return out;
    const auto deadline = t0 + kConvergeLimit;
    while (std::chrono::steady_clock::now() < deadline) {
        bool done = true;
        for (std::size_t i = 0; i < everyone.size(); ++i) {
            if (seen_at[i]) continue;
            auto view = nodes_view(*everyone[i]);
            const NodeLine* l = view ? view->find(id) : nullptr;
            if (l && l->connected_member())
                seen_at[i] = elapsed_ms();
            else
                done = false;
        }
        if (!new_sees_all) {
            auto view = nodes_view(fresh);
            std::size_t connected = 0;
            if (view)
                for (const auto& l : view->lines)
                    if (cluster_ids.count(l.id()) && l.connected_member()) ++connected;
            if (connected == cluster.size())
                new_sees_all = elapsed_ms();
            else
                done = false;
        }
        if (done) break;
        std::this_thread::sleep_for(20ms);
    }
    if (!new_sees_all ||
        std::any_of(seen_at.begin(), seen_at.end(), [](const auto& t) { return !t.has_value(); }))
        return out;
    std::vector<double> times;
    for (const auto& t : seen_at)
        times.push_back(*t);
    std::sort(times.begin(), times.end());
    out.complete = true;
    out.all_ms = times.back();
    out.median_ms = times[times.size() / 2];
    out.new_sees_all_ms = *new_sees_all;
    return out;
}

}  // namespace

TEST_CASE("[mixed] dissemination of a new node in a 6 + 6 node cluster", "[interop][mixed]") {
    TempDir tmp("gossipcluster-mixed");
    auto redis = start_servers(ServerKind::kRedis, 6, tmp.path());
    auto kv = start_servers(ServerKind::kKv, 6, tmp.path());
    const Servers cluster = all_of(redis, kv);
    const auto ids = ids_of(cluster);
    // Two hubs of different kinds: redis 0 meets every kvserver, kvserver 0 every redis-server.
    for (auto& k : kv)
        CHECK(meet(*redis[0], *k) == "OK");
    for (std::size_t i = 1; i < redis.size(); ++i)
        CHECK(meet(*kv[0], *redis[i]) == "OK");
    require_full_mesh(cluster, ids);

    // Rounds alternate the kind of the new node; each new node is forgotten afterwards so that
    // every round starts from the same 12 nodes.
    constexpr int kRounds = 5;
    std::map<ServerKind, std::vector<Spread>> results;
    for (int round = 0; round < kRounds; ++round) {
        for (ServerKind kind : {ServerKind::kKv, ServerKind::kRedis}) {
            ClusterServer fresh(kind, tmp.path());
            const std::string fresh_id = my_id(fresh);
            const Spread s = measure_spread(*redis[1], fresh, cluster);
            if (!s.complete) {
                Servers everyone = cluster;
                everyone.push_back(&fresh);
                INFO("new " << kind_name(kind) << " " << fresh.name() << " did not spread\n"
                            << dump(everyone));
                REQUIRE(s.complete);
            }
            results[kind].push_back(s);
            fresh.stop();
            // A node that forgets another tells its peers (the forgotten-node extension of
            // Redis 7), so a later FORGET may find the node already gone from that view.
            for (auto* c : cluster) {
                auto r = c->call({"CLUSTER", "FORGET", fresh_id});
                CAPTURE(c->name());
                REQUIRE(r);
                const std::string reply = r->show();
                CAPTURE(reply);
                CHECK((reply == "OK" || reply.find("Unknown node") != std::string::npos));
            }
            for (auto* c : cluster) {
                auto view = nodes_view(*c);
                CAPTURE(c->name());
                REQUIRE(view);
                CHECK(view->find(fresh_id) == nullptr);
            }
        }
    }

    std::string report = fmt::format(
        "dissemination: a new node MEETs a redis-server of a 6 redis-server + 6 kvserver cluster "
        "(node timeout 3000 ms, CLUSTER NODES polled every 20 ms), {} rounds\n",
        kRounds);
    for (ServerKind kind : {ServerKind::kKv, ServerKind::kRedis}) {
        for (const auto& s : results[kind])
            report += fmt::format(
                "  new {:<22}: all 13 list it connected after {:6.0f} ms (half of them after "
                "{:6.0f} ms); it lists all 12 connected after {:6.0f} ms\n",
                kind_name(kind), s.all_ms, s.median_ms, s.new_sees_all_ms);
    }
    for (ServerKind kind : {ServerKind::kKv, ServerKind::kRedis}) {
        std::vector<double> all_ms;
        for (const auto& s : results[kind])
            all_ms.push_back(s.all_ms);
        std::sort(all_ms.begin(), all_ms.end());
        report += fmt::format(
            "  new {:<22}: all 13 list it after min {:.0f} / median {:.0f} / max {:.0f} ms\n",
            kind_name(kind), all_ms.front(), all_ms[all_ms.size() / 2], all_ms.back());
    }
    WARN(report);
}

TEST_CASE("[mixed] masters leave config epoch 0 as redis-server does: all epochs end distinct",
          "[interop][mixed]") {
    // Between redis-server 7.0 nodes, two masters with the same config epoch (0 on fresh nodes
    // included) collide and the one with the smaller id moves to a new epoch, until all differ.
    TempDir tmp("gossipcluster-mixed");
    auto redis = start_servers(ServerKind::kRedis, 3, tmp.path());
    auto kv = start_servers(ServerKind::kKv, 3, tmp.path());
    const Servers all = all_of(redis, kv);
    const auto ids = ids_of(all);
    CHECK(meet(*redis[0], *kv[0]) == "OK");
    CHECK(meet(*kv[1], *redis[0]) == "OK");
    CHECK(meet(*redis[1], *kv[1]) == "OK");
    CHECK(meet(*kv[2], *redis[1]) == "OK");
    CHECK(meet(*redis[2], *kv[2]) == "OK");
    require_full_mesh(all, ids);

    std::map<std::string, std::string> epochs;
    const bool distinct = wait_until(20s, kPollEvery, [&] {
        auto agreed = agreed_epochs(all);
        if (!agreed) return false;
        epochs = *agreed;
        std::set<std::string> values;
        for (const auto& [id, epoch] : epochs)
            values.insert(epoch);
        return values.size() == all.size();
    });
    std::string shown;
    for (auto* s : all) {
        auto info = s->call({"CLUSTER", "INFO"});
        std::string current = "?";
        if (info && info->is_bulk()) {
            const auto at = info->text.find("cluster_current_epoch:");
            if (at != std::string::npos)
                current = info->text.substr(at, info->text.find('\r', at) - at);
        }
        shown += fmt::format("{} {} config epoch {} ({})\n", s->name(), my_id(*s),
                             epochs.count(my_id(*s)) ? epochs[my_id(*s)] : "?", current);
    }
    INFO(shown);
    CHECK(distinct);
}

// CLUSTER MEET to a port where nothing listens yet (the server is still starting): the node
// keeps trying with MEET until the connection is up, as redis-server 7.0 does, so the pair forms
// as soon as the other one listens instead of never.
TEST_CASE("[mixed] a kvserver MEET sent 1 s before the target listens forms the pair",
          "[interop][mixed]") {
    const auto kind = GENERATE(ServerKind::kRedis, ServerKind::kKv);
    CAPTURE(kind_name(kind));
    TempDir tmp("gossipcluster-mixed");
    ClusterServer kv(ServerKind::kKv, tmp.path());
    std::string met;
    ClusterServer late(kind, tmp.path(), {}, 3000, [&](const ClusterServer& target) {
        met = kv.call({"CLUSTER", "MEET", "127.0.0.1", std::to_string(target.port())})
                  .value_or(Reply{})
                  .show();
        std::this_thread::sleep_for(1s);
    });
    CHECK(met == "OK");
    const Servers all{&kv, &late};
    const auto ids = ids_of(all);
    // redis-server forms it within 0.2 s of the target's start; 2 s leave room for a slow host.
    const bool joined = wait_until(2s, 50ms, [&] { return full_mesh(all, ids); });
    INFO((joined ? std::string() : dump(all)));
    CHECK(joined);
}

namespace {

// The hostname each node of `servers` prints for the node `id` in CLUSTER SHARDS ("" if none),
// or nullopt when the reply does not list it.
std::optional<std::string> shards_hostname(ClusterServer& s, const std::string& id) {
    auto r = s.call({"CLUSTER", "SHARDS"});
    if (!r || r->type != Reply::Type::kArray) return std::nullopt;
    for (const auto& shard : r->elements)
        for (std::size_t i = 0; i + 1 < shard.elements.size(); i += 2) {
            if (shard.elements[i].text != "nodes") continue;
            for (const auto& node : shard.elements[i + 1].elements) {
                std::map<std::string, std::string> fields;
                for (std::size_t k = 0; k + 1 < node.elements.size(); k += 2)
                    fields[node.elements[k].text] = node.elements[k + 1].text;
                if (fields["id"] == id) return fields["hostname"];
            }
        }
    return std::nullopt;
}

// Lines of a redis-server log about ping extensions it could not use.
std::string extension_complaints(const ClusterServer& s) {
    std::string out;
    for (const auto& line : split(read_file(s.log_path()), '\n'))
        if (line.find("Received") != std::string::npos &&
            line.find("extension") != std::string::npos)
            out += line + '\n';
    return out;
}

}  // namespace

// Redis 7.0 understands one ping extension, the hostname, and forgets a sender's hostname when a
// PING or PONG comes without it; any other type is logged as a warning on every message. Every
// node must show every announced hostname, whether or not it announces one itself, and
// redis-server must have nothing to complain about (kvserver replicas too: they send the shard id
// only to peers that read it).
TEST_CASE("[mixed] hostnames reach every node and redis-server 7.0 warns about no extension",
          "[interop][mixed]") {
    TempDir tmp("gossipcluster-mixed");
    ClusterServer redis_named(ServerKind::kRedis, tmp.path(),
                              {"--cluster-announce-hostname", "redis-h.test"});
    ClusterServer redis_plain(ServerKind::kRedis, tmp.path());
    ClusterServer kv_named(ServerKind::kKv, tmp.path(),
                           {"--cluster-announce-hostname", "kv-h.test"});
    ClusterServer kv_plain(ServerKind::kKv, tmp.path());
    ClusterServer kv_replica(ServerKind::kKv, tmp.path(),
                             {"--cluster-announce-hostname", "kv-r.test"});
    const Servers all{&redis_named, &redis_plain, &kv_named, &kv_plain, &kv_replica};
    const auto ids = ids_of(all);
    for (auto* s : all)
        if (s != &kv_named) CHECK(meet(*s, kv_named) == "OK");
    require_full_mesh(all, ids);
    auto rep = kv_replica.call({"CLUSTER", "REPLICATE", my_id(kv_named)});
    REQUIRE(rep);
    CHECK(rep->is_ok());

    const std::map<std::string, std::string> hostname_of{
        {my_id(redis_named), "redis-h.test"}, {my_id(redis_plain), ""},
        {my_id(kv_named), "kv-h.test"},       {my_id(kv_plain), ""},
        {my_id(kv_replica), "kv-r.test"},
    };
    auto shown_hostname = [](const NodeLine& l) {
        const auto comma = l.address().find(',');
        return comma == std::string::npos ? std::string() : l.address().substr(comma + 1);
    };
    // What is still wrong: empty once every node shows every hostname in both replies.
    auto wrong = [&] {
        std::string out;
        for (auto* s : all) {
            auto view = nodes_view(*s);
            if (!view) return fmt::format("{}: no CLUSTER NODES\n", s->name());
            for (const auto& [id, host] : hostname_of) {
                const NodeLine* l = view->find(id);
                if (!l || shown_hostname(*l) != host)
                    out += fmt::format("{} NODES: {} shows '{}' not '{}'\n", s->name(), id,
                                       l ? shown_hostname(*l) : "(missing)", host);
                const auto sh = shards_hostname(*s, id);
                if (sh != host)
                    out += fmt::format("{} SHARDS: {} shows '{}' not '{}'\n", s->name(), id,
                                       sh.value_or("(missing)"), host);
            }
        }
        return out;
    };
    std::string last;
    const bool shown = wait_until(10s, kPollEvery, [&] { return (last = wrong()).empty(); });
    INFO(last);
    INFO((shown ? std::string() : dump(all)));
    CHECK(shown);
    // Several ping rounds more (timeout 3 s: a ping every 1.5 s at most): still shown, and no
    // warning in either redis-server's log.
    std::this_thread::sleep_for(3s);
    CHECK(wrong() == "");
    CHECK(extension_complaints(redis_named) == "");
    CHECK(extension_complaints(redis_plain) == "");
}

}  // namespace interop_mixed_cluster_test
