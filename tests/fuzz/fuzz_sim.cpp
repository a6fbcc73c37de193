// Fuzz target: input bytes drive a small simulated cluster (3 masters, 3 replicas) through forged
// messages, time, crashes, restarts, pauses and partitions; the invariant checker must hold after
// every step and no codec error may appear.
//
// Every input starts from a freshly formed cluster. The bytes are read as a program: an opcode
// byte, then its operands; missing bytes read as zero, so every input is a valid program. Forged
// messages go through the codec (encode, then decode) before the node sees them, so only what a
// peer could put on the wire is injected.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "fuzz_check.hpp"
#include "gossipcluster/codec.hpp"
#include "gossipcluster/testing/checker.hpp"
#include "gossipcluster/testing/cluster_setup.hpp"
#include "gossipcluster/testing/sim_cluster.hpp"

using namespace gossipcluster;
using namespace gossipcluster::testing;

namespace {

constexpr std::size_t kMasters = 3;
constexpr std::size_t kNodes = 6;
constexpr std::size_t kMaxOps = 64;
constexpr std::size_t kAttackerLinks = 4;  // per node, reused across injections
constexpr Duration kNodeTimeout{1000};

// Reads the input front to back; past the end every read is zero.
class Reader {
  public:
    explicit Reader(std::span<const std::uint8_t> data) : data_(data) {}
    bool done() const { return pos_ >= data_.size(); }
    std::uint8_t u8() { return pos_ < data_.size() ? data_[pos_++] : 0; }
    std::uint16_t u16() { return static_cast<std::uint16_t>(u8() << 8 | u8()); }
    std::uint32_t u32() { return static_cast<std::uint32_t>(u16()) << 16 | u16(); }
    std::uint64_t u64() { return static_cast<std::uint64_t>(u32()) << 32 | u32(); }
    std::size_t below(std::size_t n) { return n == 0 ? 0 : u8() % n; }
    std::string text(std::size_t max) {
        const std::size_t n = below(max + 1);
        std::string s;
        for (std::size_t i = 0; i < n; ++i)
            s.push_back(static_cast<char>(u8()));
        return s;
    }
    std::vector<std::uint8_t> bytes(std::size_t n) {
        std::vector<std::uint8_t> b;
        for (std::size_t i = 0; i < n && !done(); ++i)
            b.push_back(u8());
        return b;
    }

  private:
    std::span<const std::uint8_t> data_;
    std::size_t pos_ = 0;
};

// What the fuzzer runs on: the simulated cluster, its checker and the attacker's links.
struct World {
    explicit World(std::uint64_t seed) : sim(SimOptions{.seed = seed}), checker(sim) {
        checker.allow_forged_reports();
    }

    SimCluster sim;
    Checker checker;
    std::vector<NodeId> ids;  // node i's name, kept across crashes
    std::array<std::array<std::optional<LinkId>, kAttackerLinks>, kNodes> links{};
    std::uint64_t next_link = 0;

    void check(const char* after) {
        checker.check_step();
        if (!checker.ok() || !sim.codec_errors().empty()) {
            std::fprintf(stderr, "invariant violated after %s at t=%lld ms:\n", after,
                         static_cast<long long>(sim.now().ms));
            for (const auto& v : checker.violations())
                std::fprintf(stderr, "  %s\n", v.c_str());
            for (const auto& e : sim.codec_errors())
                std::fprintf(stderr, "  codec: %s\n", e.c_str());
            for (std::size_t i = 0; i < sim.size(); ++i) {
                if (!sim.alive(i)) {
                    std::fprintf(stderr, "  node %zu (%s): down\n", i,
                                 i < ids.size() ? std::string(ids[i].view()).c_str() : "?");
                    continue;
                }
                const auto& st = sim.core(i).state();
                std::fprintf(stderr,
                             "  node %zu: myself %s %s currentEpoch %llu configEpoch %llu\n", i,
                             std::string(st.myself_id().view()).c_str(),
                             st.myself().is_master() ? "master" : "replica",
                             static_cast<unsigned long long>(st.current_epoch()),
                             static_cast<unsigned long long>(st.myself().config_epoch()));
            }
            std::abort();
        }
    }
};

Config node_config() {
    Config c;
    c.node_timeout = kNodeTimeout;
    c.writable_delay = Duration{200};
    c.repl_ping_period = Duration{1000};
    return c;
}

NodeId pick_id(Reader& in, const World& w) {
    const std::uint8_t b = in.u8();
    if (b < 160) return w.ids[b % w.ids.size()];
    if (b < 240) {
        // A well-formed name nobody has (a few distinct ones, so that they can recur).
        std::string s(kNodeNameLen, 'f');
        s[0] = static_cast<char>('a' + b % 8);
        return *NodeId::parse(s);
    }
    if (b < 250) return NodeId{};  // the null name
    // Not a valid name: characters outside [a-z0-9].
    std::string s(kNodeNameLen, 'A');
    s[kNodeNameLen - 1] = static_cast<char>(b);
    return NodeId::from_raw(s.data());
}

IpText pick_ip(Reader& in, World& w) {
    const std::uint8_t b = in.u8();
    if (b < 128) return IpText(w.sim.ip(b % kNodes));
    if (b < 192) return IpText{};
    if (b < 224) return IpText("10.66.0." + std::to_string(b & 7));
    return IpText(in.text(20));
}

std::uint16_t pick_port(Reader& in, World& w) {
    const std::uint8_t b = in.u8();
    if (b < 160) return b % 2 == 0 ? w.sim.port(0) : w.sim.bus_port(0);
    if (b < 200) return 0;
    return in.u16();
}

std::uint16_t pick_flags(Reader& in) {
    static constexpr std::uint16_t kCommon[] = {
        node_flag::kMaster,
        node_flag::kSlave,
        node_flag::kMaster | node_flag::kPfail,
        node_flag::kMaster | node_flag::kFail,
        node_flag::kSlave | node_flag::kFail,
        node_flag::kMaster | node_flag::kMyself,
        node_flag::kHandshake,
        node_flag::kNoAddr,
        node_flag::kMaster | node_flag::kNoFailover,
        node_flag::kSlave | node_flag::kNoFailover,
    };
    const std::uint8_t b = in.u8();
    if (b < 200) return kCommon[b % std::size(kCommon)];
    return in.u16();
}

// An epoch near what the target has (older, equal, a little newer), or anything at all.
Epoch pick_epoch(Reader& in, Epoch around) {
    const std::uint8_t b = in.u8();
    if (b < 224) return around + (b % 8) - std::min<Epoch>(around, 3);
    if (b < 240) return 0;
    if (b < 248) return ~Epoch{0} - (b & 3);
    return in.u64();
}

SlotBitmap pick_slots(Reader& in, World& w) {
    SlotBitmap s;
    const std::uint8_t b = in.u8();
    switch (b % 5) {
        case 0:
            break;
        case 1: {  // what one of the masters owns now (seen by the first live node)
            for (std::size_t i = 0; i < kNodes; ++i) {
                if (!w.sim.alive(i)) continue;
                const auto& st = w.sim.core(i).state();
                const NodeId& owner = w.ids[in.below(kMasters)];
                for (std::size_t slot = 0; slot < kSlotCount; ++slot)
                    if (const auto o = st.slot_owner(slot); o && o->id() == owner) s.set(slot);
                break;
            }
            break;
        }
        case 2: {
            const std::size_t first = in.u16() % kSlotCount;
            const std::size_t len = in.u16() % kSlotCount;
            s.set_range(first, std::min(kSlotCount - 1, first + len));
            break;
        }
        case 3:
            s.set(in.u16() % kSlotCount);
            break;
        default:
            s.set_range(0, kSlotCount - 1);
            break;
    }
    return s;
}

GossipBody pick_gossip(Reader& in, World& w, std::uint64_t unix_s) {
    GossipBody body;
    const std::size_t entries = in.below(7);
    for (std::size_t k = 0; k < entries; ++k) {
        GossipEntry e;
        e.node = pick_id(in, w);
        e.ping_sent = in.u8() < 200 ? 0 : static_cast<std::uint32_t>(unix_s);
        const std::uint8_t pong = in.u8();
        e.pong_received = pong < 128   ? static_cast<std::uint32_t>(unix_s - (pong % 8))
                          : pong < 200 ? static_cast<std::uint32_t>(unix_s + (pong % 100))
                                       : in.u32();
        e.ip = pick_ip(in, w);
        e.port = pick_port(in, w);
        e.cport = pick_port(in, w);
        e.pport = in.u8() < 200 ? 0 : in.u16();
        e.flags = pick_flags(in);
        body.gossip.push_back(e);
    }
    const std::size_t exts = in.below(4);
    for (std::size_t k = 0; k < exts; ++k) {
        switch (in.below(5)) {
            case 0:
                body.extensions.emplace_back(HostnameExt{in.text(40)});
                break;
            case 1:
                body.extensions.emplace_back(HumanNodenameExt{in.text(40)});
                break;
            case 2:
                body.extensions.emplace_back(ForgottenNodeExt{pick_id(in, w), in.u8()});
                break;
            case 3:
                body.extensions.emplace_back(ShardIdExt{pick_id(in, w)});
                break;
            default: {
                UnknownExt u;
                u.type = static_cast<std::uint16_t>(4 + in.u8());
                const std::size_t n = in.below(3) * 8;
                for (std::size_t i = 0; i < n; ++i)
                    u.payload.push_back(in.u8());
                body.extensions.emplace_back(std::move(u));
                break;
            }
        }
    }
    return body;
}

// A structured message as a peer (real or not) could send it to node `target`.
Message forge(Reader& in, World& w, std::size_t target) {
    const auto& st = w.sim.core(target).state();
    const std::uint64_t unix_s = w.sim.core(target).now().unix_ms / 1000;
    Message m;
    m.header.type = static_cast<MessageType>(in.below(kMessageTypeCount));
    m.header.sender = pick_id(in, w);
    // Most forged headers claim the role and slots the sender really has, so that the rest of
    // the message is what gets tested, not only the role change.
    const std::uint8_t shape = in.u8();
    const auto known = st.find(m.header.sender);
    if (shape < 128 && known) {
        m.header.flags = known->flags() & (node_flag::kMaster | node_flag::kSlave);
        if (!known->is_master() && known->master()) m.header.slaveof = *known->master();
        for (std::size_t slot = 0; slot < kSlotCount; ++slot)
            if (const auto o = st.slot_owner(slot); o && o->id() == known->id())
                m.header.myslots.set(slot);
    } else {
        m.header.flags = pick_flags(in);
        if (in.u8() < 100) m.header.slaveof = pick_id(in, w);
        m.header.myslots = pick_slots(in, w);
    }
    m.header.current_epoch = pick_epoch(in, st.current_epoch());
    m.header.config_epoch = pick_epoch(in, known ? known->config_epoch() : 0);
    m.header.offset = in.u8() < 200 ? 0 : in.u64();
    m.header.myip = pick_ip(in, w);
    m.header.port = pick_port(in, w);
    m.header.cport = pick_port(in, w);
    m.header.pport = in.u8() < 200 ? 0 : in.u16();
    m.header.state = in.u8() < 200 ? BusClusterState::Ok : BusClusterState::Fail;
    m.header.mflags[0] = static_cast<std::uint8_t>(in.u8() & 7);

    switch (m.header.type) {
        case MessageType::Ping:
        case MessageType::Pong:
        case MessageType::Meet:
            m.body = pick_gossip(in, w, unix_s);
            break;
        case MessageType::Fail:
            m.body = FailBody{pick_id(in, w)};
            break;
        case MessageType::Publish:
        case MessageType::PublishShard:
            m.body = PublishBody{in.text(16), in.text(32)};
            break;
        case MessageType::Update: {
            UpdateBody u;
            u.config_epoch = pick_epoch(in, st.current_epoch());
            u.node = pick_id(in, w);
            u.slots = pick_slots(in, w);
            m.body = u;
            break;
        }
        case MessageType::Module:
            m.body = ModuleBody{in.u64(), in.u8(), in.text(32)};
            break;
        default:
            m.body = EmptyBody{};
            break;
    }
    return m;
}

// The link an attacker uses into node `target`: opened (accepted by the node) on first use.
LinkId attacker_link(Reader& in, World& w, std::size_t target) {
    auto& slot = w.links[target][in.below(kAttackerLinks)];
    if (!slot) {
        slot = LinkId::inbound((std::uint64_t{1} << 40) + ++w.next_link);
        const std::uint8_t b = in.u8();
        const std::string peer =
            b < 128 ? w.sim.ip(b % kNodes) : "10.66.0." + std::to_string(b % 8);
        w.sim.core(target).on_inbound_link(*slot, peer, w.sim.ip(target));
    }
    return *slot;
}

void forget_links(World& w, std::size_t node) {
    for (auto& l : w.links[node])
        l.reset();
}

void inject(World& w, std::size_t target, const Message& m, LinkId link) {
    // Only what survives the wire is delivered; a message the codec refuses to write is dropped
    // (the encoder refuses what no peer could send, e.g. an oversize string).
    std::vector<std::uint8_t> frame;
    try {
        encode(m, frame);
    } catch (const std::exception&) {
        return;
    }
    Message decoded;
    if (decode(frame, decoded) != DecodeError::None) return;
    w.sim.core(target).on_message(link, decoded);
}

bool usable(World& w, std::size_t i) {
    return w.sim.alive(i) && !w.sim.paused(i);
}

void run_op(Reader& in, World& w) {
    const std::uint8_t op = in.u8();
    const std::size_t node = in.below(kNodes);
    switch (op % 12) {
        case 0:
        case 1:
        case 2: {  // a forged message (the most common operation)
            if (!usable(w, node)) break;
            const LinkId link = attacker_link(in, w, node);
            const Message m = forge(in, w, node);
            inject(w, node, m, link);
            w.check("a forged message");
            break;
        }
        case 3: {  // a raw frame from the input bytes
            if (!usable(w, node)) break;
            const LinkId link = attacker_link(in, w, node);
            const auto frame = in.bytes(in.u16() % 4096);
            Message m;
            if (decode(frame, m) == DecodeError::None) w.sim.core(node).on_message(link, m);
            w.check("a raw frame");
            break;
        }
        case 4:  // time passes
            w.sim.run_for(Duration{10 * static_cast<std::int64_t>(in.u8()) + 1});
            w.check("running");
            break;
        case 5:
            w.sim.crash(node);
            forget_links(w, node);
            w.check("a crash");
            break;
        case 6:
            w.sim.restart(node);
            w.check("a restart");
            break;
        case 7: {  // a partition: the bits say which side each node is on
            const std::uint8_t mask = in.u8();
            std::vector<std::size_t> a, b;
            for (std::size_t i = 0; i < kNodes; ++i)
                ((mask >> i) & 1u ? a : b).push_back(i);
            w.sim.partition(a, b);
            break;
        }
        case 8:  // one direction only
            w.sim.block(node, in.below(kNodes));
            break;
        case 9:
            w.sim.heal();
            break;
        case 10:
            if (w.sim.alive(node))
                w.sim.pause(node, Duration{10 * static_cast<std::int64_t>(in.u8())});
            break;
        default: {  // the attacker closes one of its links
            auto& slot = w.links[node][in.below(kAttackerLinks)];
            if (slot && usable(w, node)) {
                w.sim.core(node).on_link_down(*slot, "connection reset by peer");
                slot.reset();
                w.check("a closed link");
            }
            break;
        }
    }
}

// Runs `sim` in slices of simulated time until pred() holds, checking only between slices: the
// convergence checks walk every slot of every node, too slow to run after every step.
template <typename Pred>
bool run_in_slices(SimCluster& sim, Pred&& pred, std::size_t slices) {
    for (std::size_t k = 0; k < slices; ++k) {
        if (pred()) return true;
        sim.run_for(Duration{100});
    }
    return pred();
}

// The cluster cluster_setup.hpp's form_cluster builds (masters 0-2 with a third of the slots and
// config epochs 1-3, replica 3 + m of master m), checked for convergence between time slices.
bool form(SimCluster& sim) {
    const Config config = node_config();
    for (std::size_t i = 0; i < kNodes; ++i)
        sim.add_node(config);
    for (std::size_t m = 0; m < kMasters; ++m) {
        std::vector<std::uint16_t> slots;
        for (std::size_t slot = m * kSlotCount / kMasters; slot < (m + 1) * kSlotCount / kMasters;
             ++slot)
            slots.push_back(static_cast<std::uint16_t>(slot));
        auto& core = sim.core(m);
        const auto epoch = static_cast<std::int64_t>(m + 1);
        if (!core.command([&](auto& st, Now n, Output& o) { return st.add_slots(n, slots, o); })
                 .ok ||
            !core.command(
                     [&](auto& st, Now n, Output& o) { return st.set_config_epoch(n, epoch, o); })
                 .ok)
            return false;
    }
    for (std::size_t i = 1; i < kNodes; ++i)
        if (!sim.meet(i, 0).ok) return false;
    if (!run_in_slices(
            sim, [&] { return membership_converged(sim); }, 300))
        return false;
    for (std::size_t m = 0; m < kMasters; ++m) {
        const NodeId master = sim.core(m).state().myself_id();
        if (!sim.core(kMasters + m)
                 .command([&](auto& st, Now n, Output& o) {
                     return st.replicate(n, master.view(), true, o);
                 })
                 .ok)
            return false;
    }
    return run_in_slices(
        sim, [&] { return cluster_converged(sim); }, 300);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    Reader in(std::span<const std::uint8_t>(data, size));
    World w(1 + in.u8() % 4);
    FUZZ_CHECK(form(w.sim));
    for (std::size_t i = 0; i < kNodes; ++i)
        w.ids.push_back(w.sim.core(i).state().myself_id());
    w.check("forming the cluster");

    for (std::size_t k = 0; k < kMaxOps && !in.done(); ++k)
        run_op(in, w);

    // The faults end; whatever state the messages left, the epochs and votes stay consistent.
    w.sim.heal();
    for (std::size_t i = 0; i < kNodes; ++i)
        w.sim.restart(i);
    w.sim.run_for(Duration{3 * kNodeTimeout.count()});
    w.check("healing");
    if (cluster_converged(w.sim)) {
        w.checker.check_converged();
        w.check("convergence");
    }
    return 0;
}
