// In-order reassembly of one TCP direction from captured segments, with a bounded reorder buffer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <vector>

#include "packet_decode.hpp"

namespace busdump {

struct ReassemblyLimits {
    std::size_t max_buffered_bytes = 256 * 1024;  // out-of-order payload held per direction
    std::size_t max_segments = 256;
};

struct ReassemblyStats {
    std::uint64_t delivered_bytes = 0;
    std::uint64_t duplicate_bytes = 0;  // retransmitted data already delivered
    std::uint64_t out_of_order_segments = 0;
    std::uint64_t lost_bytes = 0;  // holes skipped: never captured, or given up on
};

// Delivers the byte stream of one direction to a sink in sequence order.
//
// The sink provides:
//   void on_data(std::span<const std::uint8_t>)   next in-order bytes
//   void on_lost(std::uint64_t n)                 n bytes are missing before the next on_data
//   void on_restart()                             a new connection (SYN) reuses this 4-tuple
//
// Sequence numbers are widened to 64-bit stream offsets relative to the first byte seen, so
// wrap-around at 2^32 is harmless. A segment ahead of the expected offset waits in the reorder
// buffer; when that buffer is over its limits the oldest hole is given up as lost, which keeps
// memory bounded whatever the capture holds.
class TcpDirection {
  public:
    explicit TcpDirection(ReassemblyLimits limits = {}) : limits_(limits) {}

    template <typename Sink>
    void push(const TcpSegment& seg, Sink& sink) {
        std::uint32_t data_seq = seg.seq;
        if (seg.syn) {
            if (!started_ || seg.seq != isn_) {
                if (started_) {
                    flush(sink);
                    sink.on_restart();
                }
                start(seg.seq + 1);
                isn_ = seg.seq;
            }
            data_seq = seg.seq + 1;
        } else if (!started_) {
            if (seg.payload.empty() && seg.missing_tail == 0) return;
            start(seg.seq);
            isn_ = seg.seq - 1;
        }
        const std::size_t wire_len = seg.payload.size() + seg.missing_tail;
        if (wire_len == 0) return;

        // Signed distance from the expected sequence number, as TCP compares sequence numbers.
        const auto rel = static_cast<std::int32_t>(data_seq - next_seq());
        if (rel < 0 && static_cast<std::uint64_t>(-static_cast<std::int64_t>(rel)) > next_) {
            // Starts before the first byte we track: keep only the part from offset 0 on.
            const auto before = static_cast<std::size_t>(-static_cast<std::int64_t>(rel)) - next_;
            if (before >= wire_len) {
                stats_.duplicate_bytes += wire_len;
                return;
            }
            place(0, seg.payload, seg.missing_tail, static_cast<std::size_t>(before), sink);
            return;
        }
        const std::uint64_t off =
            static_cast<std::uint64_t>(static_cast<std::int64_t>(next_) + rel);
        place(off, seg.payload, seg.missing_tail, 0, sink);
    }

    // Delivers everything still buffered, declaring the holes between as lost.
    template <typename Sink>
    void flush(Sink& sink) {
        while (!pending_.empty()) {
            auto first = pending_.begin()->first;
            if (first > next_) skip_to(first, sink);
            drain(sink);
        }
    }

    std::size_t buffered_bytes() const { return pending_bytes_; }
    std::size_t buffered_segments() const { return pending_.size(); }
    const ReassemblyStats& stats() const { return stats_; }

  private:
    struct Pending {
        std::vector<std::uint8_t> data;
        std::size_t missing_tail = 0;
        std::uint64_t end(std::uint64_t off) const { return off + data.size() + missing_tail; }
    };

    void start(std::uint32_t first_seq) {
        started_ = true;
        base_seq_ = first_seq;
        next_ = 0;
        pending_.clear();
        pending_bytes_ = 0;
    }

    std::uint32_t next_seq() const { return base_seq_ + static_cast<std::uint32_t>(next_); }

    // Places the bytes of a segment at stream offset `off` (after dropping `trim` leading bytes).
    template <typename Sink>
    void place(std::uint64_t off, std::span<const std::uint8_t> payload, std::size_t missing_tail,
               std::size_t trim, Sink& sink) {
        if (trim >= payload.size()) {
            missing_tail -= trim - payload.size();
            payload = {};
        } else {
            payload = payload.subspan(trim);
        }
        const std::uint64_t end = off + payload.size() + missing_tail;
        if (end <= next_) {
            stats_.duplicate_bytes += payload.size() + missing_tail;
            return;
        }
        if (off <= next_) {
            deliver(off, payload, missing_tail, sink);
            drain(sink);
            return;
        }
        ++stats_.out_of_order_segments;
        auto [it, inserted] = pending_.try_emplace(off);
        if (!inserted && it->second.end(off) >= end) return;  // an equal or longer copy waits
        pending_bytes_ -= it->second.data.size();
        it->second.data.assign(payload.begin(), payload.end());
        it->second.missing_tail = missing_tail;
        pending_bytes_ += payload.size();
        while (!pending_.empty() && (pending_bytes_ > limits_.max_buffered_bytes ||
                                     pending_.size() > limits_.max_segments)) {
            skip_to(pending_.begin()->first, sink);
            drain(sink);
        }
    }

    // Delivers the part of [off, off+len) that lies at or after next_; off <= next_.
    template <typename Sink>
    void deliver(std::uint64_t off, std::span<const std::uint8_t> payload, std::size_t missing_tail,
                 Sink& sink) {
        const auto already = static_cast<std::size_t>(next_ - off);
        stats_.duplicate_bytes += already;
        if (already < payload.size()) {
            auto fresh = payload.subspan(already);
            next_ += fresh.size();
            stats_.delivered_bytes += fresh.size();
            sink.on_data(fresh);
            already_in_tail(0, missing_tail, sink);
        } else {
            already_in_tail(already - payload.size(), missing_tail, sink);
        }
    }

    // The snap length cut `missing_tail` bytes; `done` of them lie before next_ already.
    template <typename Sink>
    void already_in_tail(std::size_t done, std::size_t missing_tail, Sink& sink) {
        if (done >= missing_tail) return;
        const std::size_t lost = missing_tail - done;
        next_ += lost;
        stats_.lost_bytes += lost;
        sink.on_lost(lost);
    }

    template <typename Sink>
    void drain(Sink& sink) {
        while (!pending_.empty() && pending_.begin()->first <= next_) {
            auto node = pending_.extract(pending_.begin());
            pending_bytes_ -= node.mapped().data.size();
            if (node.mapped().end(node.key()) <= next_) {
                stats_.duplicate_bytes += node.mapped().data.size() + node.mapped().missing_tail;
                continue;
            }
            deliver(node.key(), node.mapped().data, node.mapped().missing_tail, sink);
        }
    }

    template <typename Sink>
    void skip_to(std::uint64_t off, Sink& sink) {
        const std::uint64_t lost = off - next_;
        next_ = off;
        stats_.lost_bytes += lost;
        sink.on_lost(lost);
    }

    ReassemblyLimits limits_;
    bool started_ = false;
    std::uint32_t isn_ = 0;
    std::uint32_t base_seq_ = 0;  // sequence number of stream offset 0
    std::uint64_t next_ = 0;      // stream offset of the next byte to deliver
    std::map<std::uint64_t, Pending> pending_;
    std::size_t pending_bytes_ = 0;
    ReassemblyStats stats_;
};

}  // namespace busdump
