// busdump's capture path on synthetic pcaps: link layers, reordering, retransmission, resync.
#include <unistd.h>
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "dumper.hpp"
#include "frame_stream.hpp"
#include "packet_decode.hpp"
#include "pcap_input.hpp"
#include "stream_report.hpp"
#include "tcp_reassembly.hpp"

namespace {

using Bytes = std::vector<std::uint8_t>;

Bytes read_vector(const std::string& name) {
    std::ifstream in(std::filesystem::path(GOSSIPCLUSTER_VECTORS_DIR) / "bin" / name,
                     std::ios::binary);
    Bytes b{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    REQUIRE(!b.empty());
    return b;
}

// Three captured frames back to back: MEET (2256), PING with gossip (2672), UPDATE (4352).
Bytes three_frames() {
    Bytes s = read_vector("pair-meet-ping-pong-0-MEET.bin");
    for (const char* n :
         {"failover-ping-pfail-gossip-0-PING.bin", "failover-update-0-UPDATE.bin"}) {
        Bytes f = read_vector(n);
        s.insert(s.end(), f.begin(), f.end());
    }
    return s;
}

void put16(Bytes& b, std::uint16_t v) {
    b.push_back(static_cast<std::uint8_t>(v >> 8));
    b.push_back(static_cast<std::uint8_t>(v));
}
void put32(Bytes& b, std::uint32_t v) {
    put16(b, static_cast<std::uint16_t>(v >> 16));
    put16(b, static_cast<std::uint16_t>(v));
}
void put32le(Bytes& b, std::uint32_t v) {
    for (int i = 0; i < 4; ++i)
        b.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

struct Seg {
    std::uint32_t seq;
    Bytes payload;
    bool syn = false;
};

Bytes tcp_header(std::uint32_t seq, bool syn) {
    Bytes t;
    put16(t, 40001);  // src port
    put16(t, 30001);  // dst port
    put32(t, seq);
    put32(t, 0);                                                 // ack
    t.push_back(0x50);                                           // data offset 5
    t.push_back(syn ? std::uint8_t{0x02} : std::uint8_t{0x18});  // SYN or PSH|ACK
    put16(t, 65535);
    put32(t, 0);  // checksum, urgent pointer
    return t;
}

Bytes ipv4_packet(const Seg& s) {
    Bytes tcp = tcp_header(s.seq, s.syn);
    Bytes ip = {0x45, 0};
    put16(ip, static_cast<std::uint16_t>(20 + tcp.size() + s.payload.size()));
    put32(ip, 0x00004000);  // id 0, DF
    ip.insert(ip.end(), {64, 6, 0, 0, 127, 0, 0, 1, 127, 0, 0, 2});
    ip.insert(ip.end(), tcp.begin(), tcp.end());
    ip.insert(ip.end(), s.payload.begin(), s.payload.end());
    return ip;
}

// IPv6 with one hop-by-hop options header before TCP.
Bytes ipv6_packet(const Seg& s) {
    Bytes tcp = tcp_header(s.seq, s.syn);
    Bytes ip = {0x60, 0, 0, 0};
    put16(ip, static_cast<std::uint16_t>(8 + tcp.size() + s.payload.size()));
    ip.push_back(0);   // next header: hop-by-hop
    ip.push_back(64);  // hop limit
    for (int i = 0; i < 15; ++i)
        ip.push_back(0);
    ip.push_back(1);  // ::1
    for (int i = 0; i < 15; ++i)
        ip.push_back(0);
    ip.push_back(1);
    ip.insert(ip.end(), {6, 0, 1, 4, 0, 0, 0, 0});  // next TCP, length 8, PadN
    ip.insert(ip.end(), tcp.begin(), tcp.end());
    ip.insert(ip.end(), s.payload.begin(), s.payload.end());
    return ip;
}

enum class Link { Ethernet, Sll, Sll2, Raw, Null, Loop, Ethernet6 };

int linktype_of(Link l) {
    switch (l) {
        case Link::Ethernet:
        case Link::Ethernet6:
            return 1;
        case Link::Sll:
            return 113;
        case Link::Sll2:
            return 276;
        case Link::Raw:
            return 101;
        case Link::Null:
            return 0;
        case Link::Loop:
            return 108;
    }
    return -1;
}

Bytes framed(Link l, const Seg& s) {
    const bool v6 = l == Link::Ethernet6;
    Bytes ip = v6 ? ipv6_packet(s) : ipv4_packet(s);
    Bytes out;
    switch (l) {
        case Link::Ethernet:
        case Link::Ethernet6:
            out.assign(12, 0xee);
            put16(out, v6 ? 0x86dd : 0x0800);
            break;
        case Link::Sll:
            put16(out, 0);    // packet type: to us
            put16(out, 772);  // ARPHRD_LOOPBACK
            put16(out, 6);
            out.insert(out.end(), 8, 0);
            put16(out, 0x0800);
            break;
        case Link::Sll2:
            put16(out, 0x0800);
            put16(out, 0);
            put32(out, 1);
            put16(out, 772);
            out.push_back(0);
            out.push_back(6);
            out.insert(out.end(), 8, 0);
            break;
        case Link::Raw:
            break;
        case Link::Null:
            put32le(out, 2);
            break;
        case Link::Loop:
            put32(out, 2);
            break;
    }
    out.insert(out.end(), ip.begin(), ip.end());
    return out;
}

std::filesystem::path write_pcap(const std::string& name, Link l, const std::vector<Seg>& segs) {
    auto path = std::filesystem::temp_directory_path() /
                ("gossipcluster-busdump-test-" + std::to_string(::getpid()) + "-" + name);
    Bytes f;
    put32le(f, 0xa1b2c3d4);
    f.insert(f.end(), {2, 0, 4, 0});
    put32le(f, 0);
    put32le(f, 0);
    put32le(f, 262144);
    put32le(f, static_cast<std::uint32_t>(linktype_of(l)));
    std::uint32_t t = 1;
    for (const auto& s : segs) {
        Bytes p = framed(l, s);
        put32le(f, t++);
        put32le(f, 0);
        put32le(f, static_cast<std::uint32_t>(p.size()));
        put32le(f, static_cast<std::uint32_t>(p.size()));
        f.insert(f.end(), p.begin(), p.end());
    }
    std::ofstream(path, std::ios::binary)
        .write(reinterpret_cast<const char*>(f.data()), static_cast<std::streamsize>(f.size()));
    return path;
}

// Cuts `stream` into segments of at most `mss` bytes starting at sequence number `isn + 1`.
std::vector<Seg> segments(const Bytes& stream, std::uint32_t isn, std::size_t mss) {
    std::vector<Seg> out;
    for (std::size_t off = 0; off < stream.size(); off += mss) {
        const std::size_t n = std::min(mss, stream.size() - off);
        out.push_back(Seg{static_cast<std::uint32_t>(isn + 1 + off),
                          Bytes(stream.begin() + static_cast<std::ptrdiff_t>(off),
                                stream.begin() + static_cast<std::ptrdiff_t>(off + n))});
    }
    return out;
}

struct DumpResult {
    int exit_code;
    std::string out;
    std::string err;
    std::size_t frames;
};

std::string slurp(std::FILE* f) {
    std::string s;
    std::rewind(f);
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0)
        s.append(buf, n);
    std::fclose(f);
    return s;
}

DumpResult dump(const std::filesystem::path& path) {
    std::FILE* out = std::tmpfile();
    std::FILE* err = std::tmpfile();
    REQUIRE(out != nullptr);
    REQUIRE(err != nullptr);
    busdump::Dumper d(false, out, err);
    d.begin_file();
    busdump::PcapDumper(path.string(), d).run();
    std::filesystem::remove(path);
    DumpResult r{d.exit_code(), "", "", d.frames_ok()};
    r.out = slurp(out);
    r.err = slurp(err);
    return r;
}

std::size_t count(const std::string& s, const std::string& what) {
    std::size_t n = 0;
    for (auto p = s.find(what); p != std::string::npos; p = s.find(what, p + 1))
        ++n;
    return n;
}

}  // namespace

TEST_CASE("[busdump] every link layer carries the same frames", "[unit][busdump]") {
    const Bytes stream = three_frames();
    auto segs = segments(stream, 1000, 1448);
    segs.insert(segs.begin(), Seg{1000, {}, true});
    for (Link l : {Link::Ethernet, Link::Sll, Link::Sll2, Link::Raw, Link::Null, Link::Loop,
                   Link::Ethernet6}) {
        CAPTURE(linktype_of(l));
        const auto r = dump(write_pcap("links.pcap", l, segs));
        CHECK(r.exit_code == 0);
        CHECK(r.frames == 3);
        CHECK(r.err.empty());
        CHECK(count(r.out, "\nMEET ") == 1);
        CHECK(count(r.out, "\nPING ") == 1);
        CHECK(count(r.out, "\nUPDATE ") == 1);
        if (l == Link::Ethernet6) {
            CHECK(r.out.find("## frame 0  [::1]:40001 -> [::1]:30001  (2256 bytes)\n") !=
                  std::string::npos);
        } else {
            CHECK(r.out.find("## frame 0  127.0.0.1:40001 -> 127.0.0.2:30001  (2256 bytes)\n") !=
                  std::string::npos);
        }
    }
}

TEST_CASE("[busdump] reordered, retransmitted and overlapping segments are put in order",
          "[unit][busdump]") {
    const Bytes stream = three_frames();
    // Sequence numbers wrap around 2^32 inside the stream.
    const std::uint32_t isn = 0xffffffffu - 3000;
    auto segs = segments(stream, isn, 1000);
    std::mt19937 rng(7);
    std::shuffle(segs.begin(), segs.end(), rng);
    segs.insert(segs.begin(), Seg{isn, {}, true});
    // Retransmit a few, and add a segment overlapping two others.
    const Seg again2 = segs[2];
    const Seg again5 = segs[5];
    segs.push_back(again2);
    segs.insert(segs.begin() + 1, again5);
    Bytes overlap(stream.begin() + 1500, stream.begin() + 2700);
    segs.push_back(Seg{static_cast<std::uint32_t>(isn + 1 + 1500), overlap});
    const auto r = dump(write_pcap("reorder.pcap", Link::Ethernet, segs));
    CHECK(r.exit_code == 0);
    CHECK(r.frames == 3);
    CHECK(r.err.empty());
}

TEST_CASE("[busdump] a stream picked up inside a frame resynchronises on RCmb", "[unit][busdump]") {
    const Bytes stream = three_frames();
    // No SYN, and the capture starts 700 bytes into the first frame.
    auto segs = segments(Bytes(stream.begin() + 700, stream.end()), 5000, 1448);
    const auto r = dump(write_pcap("midstream.pcap", Link::Ethernet, segs));
    CHECK(r.exit_code == 0);
    CHECK(r.frames == 2);
    CHECK(r.err.find("the stream starts inside a frame: skipped 1556 bytes to the RCmb") !=
          std::string::npos);
    CHECK(count(r.out, "\nPING ") == 1);
    CHECK(count(r.out, "\nUPDATE ") == 1);
}

TEST_CASE("[busdump] a hole in the capture drops the frame it cuts and no other",
          "[unit][busdump]") {
    const Bytes stream = three_frames();
    auto segs = segments(stream, 1, 1000);
    segs.insert(segs.begin(), Seg{1, {}, true});
    // segs[4] holds stream bytes 3000..3999, inside PING (2256..4927): the hole drops PING
    // only; MEET before it and UPDATE (from 4928) survive.
    segs.erase(segs.begin() + 4);
    const auto r = dump(write_pcap("gap.pcap", Link::Ethernet, segs));
    CHECK(r.exit_code == 0);
    CHECK(r.frames == 2);
    CHECK(count(r.out, "\nMEET ") == 1);
    CHECK(count(r.out, "\nUPDATE ") == 1);
    CHECK(r.err.find("1000 bytes missing from the capture; dropped the 744 bytes of the frame") !=
          std::string::npos);
    CHECK(r.err.find("skipped 928 bytes to the RCmb signature") != std::string::npos);
}

TEST_CASE("[busdump] a corrupted frame in a capture is reported and the rest still dumped",
          "[unit][busdump]") {
    Bytes stream = three_frames();
    stream[2256 + 40] = 'Z';  // PING's sender name
    auto segs = segments(stream, 1, 1448);
    segs.insert(segs.begin(), Seg{1, {}, true});
    const auto r = dump(write_pcap("corrupt.pcap", Link::Ethernet, segs));
    CHECK(r.exit_code == 1);
    CHECK(r.frames == 2);
    CHECK(r.err.find("frame 1 (127.0.0.1:40001 -> 127.0.0.2:30001): malformed: the sender is not "
                     "a valid 40-character node name") != std::string::npos);
}

TEST_CASE("[busdump] the reorder buffer stays within its limits", "[unit][busdump]") {
    struct Sink {
        std::uint64_t data = 0;
        std::uint64_t lost = 0;
        void on_data(std::span<const std::uint8_t> d) { data += d.size(); }
        void on_lost(std::uint64_t n) { lost += n; }
        void on_restart() {}
    } sink;
    busdump::ReassemblyLimits limits;
    limits.max_buffered_bytes = 10'000;
    limits.max_segments = 8;
    busdump::TcpDirection dir(limits);
    const Bytes payload(1000, 0x41);
    busdump::TcpSegment seg;
    seg.syn = true;
    seg.seq = 0;
    dir.push(seg, sink);
    seg.syn = false;
    // Byte 1 never arrives; 200 later segments do.
    for (std::uint32_t i = 1; i <= 200; ++i) {
        seg.seq = 2 + i * 1000;
        seg.payload = payload;
        dir.push(seg, sink);
        CHECK(dir.buffered_bytes() <= limits.max_buffered_bytes);
        CHECK(dir.buffered_segments() <= limits.max_segments);
    }
    dir.flush(sink);
    CHECK(sink.data == 200 * 1000);
    CHECK(sink.lost == 1001);
    CHECK(dir.buffered_bytes() == 0);
}

TEST_CASE("[busdump] packet parsing never reads past a hostile packet", "[unit][busdump]") {
    std::mt19937 rng(42);
    std::uniform_int_distribution<int> byte(0, 255);
    const Bytes good = framed(Link::Ethernet6, Seg{1, Bytes(40, 1)});
    for (int lt : {0, 1, 12, 101, 108, 113, 228, 229, 276, 9999}) {
        for (int round = 0; round < 2000; ++round) {
            // Random prefixes of a valid packet with random bytes flipped.
            Bytes p(good.begin(), good.begin() + rng() % (good.size() + 1));
            for (auto& b : p) {
                if (rng() % 8 == 0) b = static_cast<std::uint8_t>(byte(rng));
            }
            auto parsed = busdump::parse_packet(lt, p);
            if (parsed.segment) {
                const auto& s = *parsed.segment;
                CHECK(s.payload.data() >= p.data());
                CHECK(s.payload.data() + s.payload.size() <= p.data() + p.size());
            }
        }
    }
}

TEST_CASE("[busdump] FrameStream hands out frames whatever the chunking", "[unit][busdump]") {
    struct Handler {
        std::size_t frames = 0, bad = 0;
        void frame(std::span<const std::uint8_t>, std::uint64_t) { ++frames; }
        void bad_prefix(gossipcluster::DecodeError, std::uint64_t) { ++bad; }
        void resynced(busdump::ResyncReason, std::uint64_t, std::uint64_t) {}
        void lost(std::uint64_t, std::size_t) {}
        void ended_inside_frame(std::size_t) {}
        void ended_unsynced(busdump::ResyncReason, std::uint64_t) {}
    };
    Bytes stream = three_frames();
    const Bytes junk = {'R', 'C', 'm', 'b', 0, 0, 0, 1, 'R', 'C', 'm'};  // false starts
    stream.insert(stream.begin(), junk.begin(), junk.end());
    std::mt19937 rng(3);
    for (int round = 0; round < 50; ++round) {
        Handler h;
        busdump::FrameStream fs(false);
        std::size_t off = 0;
        while (off < stream.size()) {
            const std::size_t n = std::min<std::size_t>(1 + rng() % 3000, stream.size() - off);
            fs.on_data(std::span<const std::uint8_t>(stream.data() + off, n), h);
            off += n;
        }
        fs.finish(h);
        CHECK(h.frames == 3);
        CHECK(h.bad == 0);
        CHECK(fs.buffered() == 0);
    }
}
