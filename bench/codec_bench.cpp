// Codec throughput: encode and decode (with full validation) of PING and UPDATE messages.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "gossipcluster/codec.hpp"

using namespace gossipcluster;

namespace {

NodeId node_id(std::uint64_t n) {
    char buf[kNodeNameLen + 1];
    std::snprintf(buf, sizeof buf, "%040llx", static_cast<unsigned long long>(n * 2654435761u));
    return *NodeId::parse(std::string_view(buf, kNodeNameLen));
}

Header header(MessageType t) {
    Header h;
    h.type = t;
    h.port = 30001;
    h.cport = 40001;
    h.current_epoch = 42;
    h.config_epoch = 7;
    h.offset = 123456;
    h.sender = node_id(1);
    h.myslots.set_range(0, 5460);
    h.flags = node_flag::kMaster | node_flag::kMyself;
    return h;
}

// A PING as a 7.0 node with an announced hostname sends it.
Message ping(std::size_t gossip_entries) {
    Message m;
    m.header = header(MessageType::Ping);
    m.header.mflags[0] = message_flag::kExtData;
    GossipBody body;
    for (std::size_t i = 0; i < gossip_entries; ++i) {
        GossipEntry g;
        g.node = node_id(100 + i);
        g.ip.assign("127.0.0.1");
        g.port = static_cast<std::uint16_t>(30002 + i);
        g.cport = static_cast<std::uint16_t>(40002 + i);
        g.flags = node_flag::kMaster;
        g.pong_received = 1795315655;
        body.gossip.push_back(g);
    }
    body.extensions.push_back(HostnameExt{"node-a.cluster.example"});
    m.body = std::move(body);
    return m;
}

Message update() {
    Message m;
    m.header = header(MessageType::Update);
    UpdateBody b;
    b.config_epoch = 8;
    b.node = node_id(2);
    b.slots.set_range(5461, 10922);
    m.body = b;
    return m;
}

void encode_loop(benchmark::State& state, const Message& m) {
    std::vector<std::uint8_t> out;
    out.reserve(encoded_size(m));
    for (auto _ : state) {
        out.clear();
        encode(m, out);
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    state.SetItemsProcessed(state.iterations());
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(out.size()));
}

// decode() validates everything (names, ip terminators, extension records) as it goes.
void decode_loop(benchmark::State& state, const Message& m) {
    const std::vector<std::uint8_t> frame = encode(m);
    Message out;
    for (auto _ : state) {
        const DecodeError e = decode(frame, out);
        if (e != DecodeError::None) {
            state.SkipWithError("decode failed");
            break;
        }
        benchmark::DoNotOptimize(out);
        benchmark::ClobberMemory();
    }
    state.SetItemsProcessed(state.iterations());
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(frame.size()));
}

void BM_EncodePing(benchmark::State& state) {
    encode_loop(state, ping(static_cast<std::size_t>(state.range(0))));
}
void BM_DecodePing(benchmark::State& state) {
    decode_loop(state, ping(static_cast<std::size_t>(state.range(0))));
}
void BM_EncodeUpdate(benchmark::State& state) {
    encode_loop(state, update());
}
void BM_DecodeUpdate(benchmark::State& state) {
    decode_loop(state, update());
}

BENCHMARK(BM_EncodePing)->ArgName("gossip")->Arg(3)->Arg(10)->Arg(100);
BENCHMARK(BM_DecodePing)->ArgName("gossip")->Arg(3)->Arg(10)->Arg(100);
BENCHMARK(BM_EncodeUpdate);
BENCHMARK(BM_DecodeUpdate);

}  // namespace

BENCHMARK_MAIN();
