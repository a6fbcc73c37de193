// Cuts one byte stream into bus frames with a FrameSplitter, resynchronising on "RCmb" when needed.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "gossipcluster/codec.hpp"
#include "gossipcluster/frame_splitter.hpp"

namespace busdump {

// Why a stream had to look for the next frame signature.
enum class ResyncReason : std::uint8_t {
    MidStreamStart,  // the capture begins inside a frame (no SYN, or data missing)
    Gap,             // bytes missing from the capture
    BadPrefix,       // a frame prefix was rejected; looking past it
    Restart,         // a new connection on the same 4-tuple
};

// Feeds a stream to a FrameSplitter and hands whole frames to a handler.
//
// The handler provides:
//   void frame(std::span<const std::uint8_t> frame, std::uint64_t stream_offset)
//   void bad_prefix(gossipcluster::DecodeError, std::uint64_t stream_offset)
//   void resynced(ResyncReason, std::uint64_t skipped_bytes, std::uint64_t stream_offset)
//   void lost(std::uint64_t missing_bytes, std::size_t partial_frame_bytes_dropped)
//   void ended_inside_frame(std::size_t buffered_bytes)
//   void ended_unsynced(ResyncReason, std::uint64_t skipped_bytes)
//
// A strict stream (a .bin file) must start with a frame: anything else is a bad prefix. A
// non-strict one (a TCP direction picked up mid-way) first searches for a plausible prefix.
class FrameStream {
  public:
    explicit FrameStream(bool strict_start,
                         std::size_t max_frame_bytes = gossipcluster::kDefaultMaxFrameBytes)
        : splitter_(max_frame_bytes), max_frame_bytes_(max_frame_bytes) {
        if (!strict_start) begin_search(ResyncReason::MidStreamStart, 0);
    }

    template <typename Handler>
    void on_data(std::span<const std::uint8_t> data, Handler& h) {
        // A search that finds a frame start hands everything from there on back in replay_;
        // every replay is strictly shorter than the bytes that produced it, so this ends.
        std::vector<std::uint8_t> owned;
        for (;;) {
            while (!data.empty() && replay_.empty()) {
                data = searching_ ? search(data, h) : feed(data, h);
            }
            if (replay_.empty()) return;
            owned.swap(replay_);
            replay_.clear();
            data = owned;
        }
    }

    template <typename Handler>
    void on_lost(std::uint64_t missing, Handler& h) {
        std::size_t dropped = 0;
        if (!searching_) {
            dropped = splitter_.buffered();
            splitter_.reset();
        }
        const std::uint64_t unreported = searching_ ? skipped_ + window_.size() : 0;
        pos_ += missing;
        h.lost(missing, dropped);
        begin_search(ResyncReason::Gap, unreported);
    }

    template <typename Handler>
    void on_restart(Handler& h) {
        finish(h);
        splitter_.reset();
        begin_search(ResyncReason::Restart, 0);
    }

    template <typename Handler>
    void finish(Handler& h) {
        if (searching_) {
            const std::uint64_t skipped = skipped_ + window_.size();
            if (skipped != 0) h.ended_unsynced(reason_, skipped);
            window_.clear();
            skipped_ = 0;
        } else if (splitter_.buffered() != 0) {
            h.ended_inside_frame(splitter_.buffered());
            splitter_.reset();
        }
    }

    std::size_t buffered() const { return splitter_.buffered() + window_.size(); }

  private:
    static constexpr std::uint8_t kSig[4] = {'R', 'C', 'm', 'b'};
    static constexpr std::size_t kCandidateBytes = 10;  // sig, totlen and version

    void begin_search(ResyncReason why, std::uint64_t already_skipped) {
        searching_ = true;
        reason_ = why;
        skipped_ = already_skipped;
        window_.clear();
    }

    // Synchronised: the splitter sees every byte; on a bad prefix, search again just past it.
    template <typename Handler>
    std::span<const std::uint8_t> feed(std::span<const std::uint8_t> data, Handler& h) {
        const std::size_t held = splitter_.buffered();  // the partial frame at a frame boundary
        const std::uint64_t held_at = pos_ - held;
        const auto err = splitter_.feed(data);
        std::size_t taken = 0;
        while (auto f = splitter_.next()) {
            h.frame(*f, held_at + taken);
            taken += f->size();
        }
        pos_ += data.size();
        if (err == gossipcluster::DecodeError::None) return {};

        // The rejected prefix starts right after the last whole frame.
        h.bad_prefix(err, held_at + taken);
        splitter_.reset();
        if (taken < held) {
            // It began in bytes fed earlier (at most a prefix): restart at this chunk.
            begin_search(ResyncReason::BadPrefix, held - taken);
            pos_ -= data.size();
            return data;
        }
        const std::size_t bad_at = std::min(taken - held, data.size());
        const std::size_t resume = std::min(bad_at + 1, data.size());
        begin_search(ResyncReason::BadPrefix, 1);
        pos_ -= data.size() - resume;
        return data.subspan(resume);
    }

    // Searching: keep a small window, look for "RCmb" followed by an acceptable prefix.
    template <typename Handler>
    std::span<const std::uint8_t> search(std::span<const std::uint8_t> data, Handler& h) {
        // Bound the window: look at most one chunk of new bytes per round.
        const std::size_t take = std::min<std::size_t>(data.size(), 64 * 1024);
        window_.insert(window_.end(), data.begin(),
                       data.begin() + static_cast<std::ptrdiff_t>(take));
        pos_ += take;
        auto rest = data.subspan(take);

        std::size_t i = 0;
        while (i < window_.size()) {
            auto it = std::search(window_.begin() + static_cast<std::ptrdiff_t>(i), window_.end(),
                                  std::begin(kSig), std::end(kSig));
            if (it == window_.end()) {
                // Keep the last three bytes: they may be the start of a signature.
                i = window_.size() >= 3 ? window_.size() - 3 : 0;
                break;
            }
            i = static_cast<std::size_t>(it - window_.begin());
            if (window_.size() - i < kCandidateBytes) break;  // decide when more bytes arrive
            if (plausible(i)) {
                const std::uint64_t skipped = skipped_ + i;
                const std::uint64_t found_at = pos_ - (window_.size() - i);
                if (skipped != 0) h.resynced(reason_, skipped, found_at);
                // Everything from the signature on goes back through the synchronised path.
                replay_.assign(window_.begin() + static_cast<std::ptrdiff_t>(i), window_.end());
                replay_.insert(replay_.end(), rest.begin(), rest.end());
                window_.clear();
                searching_ = false;
                skipped_ = 0;
                pos_ = found_at;
                return {};
            }
            ++i;
        }
        skipped_ += i;
        window_.erase(window_.begin(), window_.begin() + static_cast<std::ptrdiff_t>(i));
        return rest;
    }

    bool plausible(std::size_t at) const {
        std::uint32_t totlen = 0;
        auto prefix = std::span<const std::uint8_t>(window_).subspan(at, 8);
        if (gossipcluster::check_prefix(prefix, max_frame_bytes_, totlen) !=
            gossipcluster::DecodeError::None) {
            return false;
        }
        return window_[at + 8] == 0 && window_[at + 9] == 1;  // protocol version 1
    }

    gossipcluster::FrameSplitter splitter_;
    std::size_t max_frame_bytes_;
    std::uint64_t pos_ = 0;  // stream offset just past the bytes accepted so far
    bool searching_ = false;
    ResyncReason reason_ = ResyncReason::MidStreamStart;
    std::uint64_t skipped_ = 0;         // bytes discarded by the current search
    std::vector<std::uint8_t> window_;  // bytes under inspection while searching
    std::vector<std::uint8_t> replay_;  // bytes from a found frame start on, to feed again
};

}  // namespace busdump
