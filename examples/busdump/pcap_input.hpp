// Dumps the cluster-bus frames of a pcap/pcapng capture: one reassembled stream per TCP direction.
#pragma once

#include <pcap/pcap.h>

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "dumper.hpp"
#include "frame_stream.hpp"
#include "packet_decode.hpp"
#include "stream_report.hpp"
#include "tcp_reassembly.hpp"

namespace busdump {

// True for the magic numbers of pcap (both byte orders, micro- and nanosecond) and pcapng.
inline bool is_capture_magic(std::span<const std::uint8_t> head) {
    if (head.size() < 4) return false;
    const std::uint32_t m = (std::uint32_t{head[0]} << 24) | (std::uint32_t{head[1]} << 16) |
                            (std::uint32_t{head[2]} << 8) | std::uint32_t{head[3]};
    return m == 0xa1b2c3d4 || m == 0xd4c3b2a1 || m == 0xa1b23c4d || m == 0x4d3cb2a1 ||
           m == 0x0a0d0d0a;
}

// Streams tracked at once; the least recently active one is closed to admit another, which
// bounds memory to about kMaxStreams * (reorder buffer + one frame) for any capture.
inline constexpr std::size_t kMaxStreams = 256;

class PcapDumper {
  public:
    PcapDumper(std::string_view path, Dumper& dumper) : path_(path), dumper_(dumper) {}

    // Returns false when the capture cannot be read at all (reported as unreadable).
    bool run() {
        char errbuf[PCAP_ERRBUF_SIZE] = {};
        std::unique_ptr<pcap_t, decltype(&pcap_close)> pcap(
            pcap_open_offline(std::string(path_).c_str(), errbuf), &pcap_close);
        if (!pcap) {
            dumper_.unreadable(path_, errbuf);
            return false;
        }
        link_ = pcap_datalink(pcap.get());
        if (!is_supported_link_type(link_)) {
            const char* name = pcap_datalink_val_to_name(link_);
            dumper_.unreadable(path_, fmt::format("unsupported link-layer type {} ({})", link_,
                                                  name ? name : "unknown"));
            return false;
        }
        bool ok = true;
        for (;;) {
            pcap_pkthdr* hdr = nullptr;
            const u_char* data = nullptr;
            const int rc = pcap_next_ex(pcap.get(), &hdr, &data);
            if (rc == PCAP_ERROR_BREAK) break;  // end of file
            if (rc != 1) {
                dumper_.unreadable(
                    path_, fmt::format("after packet {}: {}", packets_, pcap_geterr(pcap.get())));
                ok = false;
                break;
            }
            ++packets_;
            packet(std::span<const std::uint8_t>(data, hdr->caplen));
        }
        finish_all();
        return ok;
    }

  private:
    struct Stream {
        std::string src;
        std::string dst;
        TcpDirection tcp;
        FrameStream frames{/*strict_start=*/false};
        std::uint64_t last_packet = 0;
    };

    // Connects TcpDirection's sink calls to the stream's FrameStream.
    struct Sink {
        Stream& s;
        StreamReport& report;
        void on_data(std::span<const std::uint8_t> d) { s.frames.on_data(d, report); }
        void on_lost(std::uint64_t n) { s.frames.on_lost(n, report); }
        void on_restart() { s.frames.on_restart(report); }
    };

    void packet(std::span<const std::uint8_t> bytes) {
        auto parsed = parse_packet(link_, bytes);
        if (!parsed.segment) return;  // not TCP over IP: not ours to dump
        const TcpSegment& seg = *parsed.segment;
        auto it = streams_.find(seg.flow);
        if (it == streams_.end()) {
            if (seg.payload.empty() && seg.missing_tail == 0 && !seg.syn) return;
            if (streams_.size() >= kMaxStreams) evict_oldest();
            auto s = std::make_unique<Stream>();
            s->src = seg.flow.src.str();
            s->dst = seg.flow.dst.str();
            it = streams_.emplace(seg.flow, std::move(s)).first;
        }
        Stream& s = *it->second;
        s.last_packet = packets_;
        StreamReport report = report_for(s);
        Sink sink{s, report};
        s.tcp.push(seg, sink);
    }

    StreamReport report_for(const Stream& s) {
        return StreamReport{dumper_, Origin{path_, s.src, s.dst}, /*strict=*/false};
    }

    void close(Stream& s) {
        StreamReport report = report_for(s);
        Sink sink{s, report};
        s.tcp.flush(sink);
        s.frames.finish(report);
    }

    void evict_oldest() {
        auto oldest = streams_.begin();
        for (auto it = streams_.begin(); it != streams_.end(); ++it) {
            if (it->second->last_packet < oldest->second->last_packet) oldest = it;
        }
        dumper_.note(Origin{path_, oldest->second->src, oldest->second->dst},
                     fmt::format("more than {} streams: closing the least recently active one",
                                 kMaxStreams));
        close(*oldest->second);
        streams_.erase(oldest);
    }

    // End of capture: deliver what waits behind holes, in order of last activity.
    void finish_all() {
        std::multimap<std::uint64_t, Stream*> by_activity;
        for (auto& [key, s] : streams_)
            by_activity.emplace(s->last_packet, s.get());
        for (auto& [when, s] : by_activity)
            close(*s);
        streams_.clear();
    }

    std::string_view path_;
    Dumper& dumper_;
    int link_ = 0;
    std::uint64_t packets_ = 0;
    std::map<FlowKey, std::unique_ptr<Stream>> streams_;
};

}  // namespace busdump
