// A program of a project that uses gossipcluster: checks the public headers work from outside.
// One header brings the whole protocol library.
#include <gossipcluster/gossipcluster.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

// Defined in asio_check.cpp, the translation unit that links gossipcluster::asio.
int asio_loopback_check();

namespace gc = gossipcluster;

namespace {

int fail(const char* what) {
    std::fprintf(stderr, "consumer check failed: %s\n", what);
    return 1;
}

// The host's own policies, as a program without Asio would write them.
struct CountingTransport {
    std::size_t* connects;
    void connect(gc::LinkId, const gc::Endpoint&) { ++*connects; }
    void send(gc::LinkId, const gc::Message&) {}
    void close(gc::LinkId) {}
};
struct FixedClock {
    gc::Instant now() const { return gc::Instant{1000}; }
    std::uint64_t unix_ms() const { return 1'800'000'000'000ull; }
};

}  // namespace

int main() {
    const auto id = gc::NodeId::parse("e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca");
    if (!id || id->str() != "e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca") {
        return fail("NodeId::parse rejected a valid node name");
    }
    if (gc::NodeId::parse("E7D1EECCE10FD6BB5EB35B9F99A514335D9BA9CA")) {
        return fail("NodeId::parse accepted upper-case characters");
    }
    if (gc::NodeId::parse("e7d1eecce10fd6bb5eb35b9f99a514335d9ba9c")) {
        return fail("NodeId::parse accepted a 39-character name");
    }

    gc::SlotBitmap slots;
    slots.set_range(0, 5460);
    slots.set(16383);
    std::size_t ranges = 0;
    slots.for_each_range([&](std::size_t, std::size_t) { ++ranges; });
    if (slots.count() != 5462 || !slots.test(5460) || slots.test(5461) || !slots.test(16383) ||
        ranges != 2 || slots.bytes()[0] != 0xff) {
        return fail("SlotBitmap does not hold the slots it was given");
    }

    gc::Message msg;
    msg.header.type = gc::MessageType::Pong;
    msg.header.sender = *id;
    msg.header.myslots = slots;
    msg.header.myip.assign("127.0.0.1");
    msg.header.port = 7000;
    msg.header.cport = 17000;
    msg.header.flags = gc::node_flag::kMaster;
    msg.body = gc::GossipBody{};
    if (gc::message_type_name(msg.type()) != "PONG" || !gc::carries_gossip(msg.type())) {
        return fail("message type helpers");
    }

    // A frame round trip: proves the codec is complete in the package, not only declared.
    const std::vector<std::uint8_t> frame = gc::encode(msg);
    if (frame.size() != gc::encoded_size(msg) || frame.size() != gc::kHeaderSize) {
        return fail("encoded PONG without gossip is not one 2256-byte header");
    }
    gc::Message back;
    if (gc::decode(frame, back) != gc::DecodeError::None || !(back == msg)) {
        return fail("decode(encode(m)) != m");
    }

    // A core over the host's policies: the compiled state machine is in the package too.
    std::size_t connects = 0;
    gc::ClusterCore<CountingTransport, FixedClock, gc::MemoryStorage> core(
        gc::Config{}, CountingTransport{&connects}, FixedClock{}, gc::MemoryStorage{});
    core.queue_events(8);
    if (!core.add_slots({0, 1, 2}).ok || !core.meet("127.0.0.1", 7001, 17001).ok) {
        return fail("ClusterCore commands");
    }
    core.tick();  // a MEET connects at the next tick, which it brings forward to now
    if (connects != 1 || core.take_events().empty() || !core.storage().saved() ||
        core.state().slots_of(core.state().myself()).count() != 3) {
        return fail("ClusterCore did not apply its commands");
    }

    if (asio_loopback_check() != 0) return fail("Asio loopback round trip");
    std::puts("gossipcluster consumer: ok");
    return 0;
}
