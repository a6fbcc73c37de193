// Cuts a cluster-bus byte stream into whole frames, rejecting a bad length prefix early.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "gossipcluster/codec.hpp"
#include "gossipcluster/decode_error.hpp"

namespace gossipcluster {

// Feed it whatever the socket returned; take whole frames out with next().
//
// Every frame's 8-byte prefix (sig + totlen, plus the type when totlen is below the full header)
// is checked as soon as it is visible, so a bogus length is reported before its body is awaited.
// The error is sticky until reset(); frames that were complete before the bad prefix can still be
// taken with next(), as Redis processes the frames it read before the one that closes the link.
//
// Memory: buffered() is at most one partial frame (<= max_frame_bytes) plus the last chunk,
// provided the caller drains next() after each feed(); consumed bytes are dropped lazily.
class FrameSplitter {
  public:
    explicit FrameSplitter(std::size_t max_frame_bytes = kDefaultMaxFrameBytes)
        : max_frame_bytes_(max_frame_bytes) {}

    DecodeError feed(std::span<const std::uint8_t> bytes) {
        if (error_ != DecodeError::None) return error_;
        compact(bytes.size());
        buf_.insert(buf_.end(), bytes.begin(), bytes.end());
        return scan();
    }

    // The next whole frame, valid until the next feed(), next() or reset(); nullopt when more
    // bytes are needed (or when the stream failed and no earlier whole frame is left).
    std::optional<std::span<const std::uint8_t>> next() {
        // Only prefixes below scan_ were validated; scan_ lies past every whole frame.
        if (start_ >= scan_ || buf_.size() - start_ < detail::layout::kPrefixSize)
            return std::nullopt;
        const std::size_t totlen = read_totlen(start_);
        if (buf_.size() - start_ < totlen) return std::nullopt;
        std::span<const std::uint8_t> frame(buf_.data() + start_, totlen);
        start_ += totlen;
        return frame;
    }

    // Unconsumed bytes held.
    std::size_t buffered() const { return buf_.size() - start_; }
    // The sticky error reported by feed(), None while the stream is healthy.
    DecodeError error() const { return error_; }

    void reset() {
        buf_.clear();
        start_ = 0;
        scan_ = 0;
        error_ = DecodeError::None;
    }

  private:
    // Drops the bytes next() has handed out (their views are no longer needed) once they
    // outweigh the unconsumed rest, or when the vector would otherwise grow for the new chunk:
    // each move is paid for by consumed bytes, so copying stays linear in the stream.
    void compact(std::size_t incoming) {
        if (start_ == 0) return;
        if (start_ < buffered() && buf_.capacity() - buf_.size() >= incoming) return;
        buf_.erase(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(start_));
        scan_ -= start_;
        start_ = 0;
    }

    std::size_t read_totlen(std::size_t pos) const {
        return (std::size_t{buf_[pos + 4]} << 24) | (std::size_t{buf_[pos + 5]} << 16) |
               (std::size_t{buf_[pos + 6]} << 8) | std::size_t{buf_[pos + 7]};
    }

    // Validates the prefix of every frame that starts in the buffered bytes.
    DecodeError scan() {
        namespace L = detail::layout;
        while (scan_ < buf_.size() && buf_.size() - scan_ >= L::kPrefixSize) {
            // Between 16 and 2255 only a light header is valid, and its type sits at byte 12.
            const std::size_t visible = buf_.size() - scan_;
            const std::size_t announced = read_totlen(scan_);
            const bool need_type = announced >= L::kLightHeaderSize && announced < kHeaderSize;
            const std::size_t want = need_type ? L::kType + 2 : L::kPrefixSize;
            if (visible < want) break;
            std::uint32_t totlen = 0;
            const auto prefix = std::span<const std::uint8_t>(buf_).subspan(scan_, want);
            if (auto e = check_prefix(prefix, max_frame_bytes_, totlen); e != DecodeError::None) {
                error_ = e;
                buf_.resize(scan_);  // keep the whole frames before it, drop the rest
                return e;
            }
            scan_ += totlen;
        }
        return DecodeError::None;
    }

    std::size_t max_frame_bytes_;
    std::vector<std::uint8_t> buf_;
    std::size_t start_ = 0;  // first byte not yet handed out by next()
    std::size_t scan_ = 0;   // start of the first frame whose prefix is not validated yet
    DecodeError error_ = DecodeError::None;
};

}  // namespace gossipcluster
