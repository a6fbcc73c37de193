// Vocabulary types of the cluster bus: node names, flags, epochs, slot bitmaps and wire constants.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace gossipcluster {

// Wire constants of the Redis 7.0 cluster bus (protocol version 1).
inline constexpr std::size_t kSlotCount = 16384;
inline constexpr std::size_t kSlotBitmapBytes = kSlotCount / 8;
inline constexpr std::size_t kNodeNameLen = 40;
inline constexpr std::size_t kIpFieldLen = 46;
inline constexpr std::size_t kHostnameMaxLen = 255;  // NET_HOST_STR_LEN is 256 including NUL
inline constexpr std::size_t kHeaderSize = 2256;
inline constexpr std::size_t kGossipEntrySize = 104;
inline constexpr std::uint16_t kProtocolVersion = 1;
inline constexpr std::uint16_t kBusPortIncrement = 10000;

using Epoch = std::uint64_t;

// A 40-character node name. The all-NUL value is the wire's "no node" (CLUSTER_NODE_NULL_NAME).
class NodeId {
  public:
    constexpr NodeId() = default;

    // Accepts exactly 40 characters from [a-z0-9], as Redis's verifyClusterNodeId does.
    static std::optional<NodeId> parse(std::string_view text) {
        if (text.size() != kNodeNameLen || !valid_chars(text)) return std::nullopt;
        NodeId id;
        std::copy(text.begin(), text.end(), id.bytes_.begin());
        return id;
    }

    // Raw 40 bytes from the wire; the caller validates with is_valid()/is_null().
    static NodeId from_raw(const char* raw) {
        NodeId id;
        std::memcpy(id.bytes_.data(), raw, kNodeNameLen);
        return id;
    }

    static bool valid_chars(std::string_view text) {
        return std::all_of(text.begin(), text.end(),
                           [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); });
    }

    bool is_null() const {
        // Five words rather than forty bytes: headers are asked this several times each.
        std::uint64_t any = 0;
        for (std::size_t i = 0; i < kNodeNameLen; i += 8)
            any |= word(i);
        return any == 0;
    }
    bool is_valid() const { return valid_chars(view()); }

    std::string_view view() const { return {bytes_.data(), bytes_.size()}; }
    std::string str() const { return std::string(view()); }
    const std::array<char, kNodeNameLen>& raw() const { return bytes_; }

    // Five 8-byte words rather than a memcmp call: names are compared in every hot loop.
    friend bool operator==(const NodeId& a, const NodeId& b) {
        std::uint64_t diff = 0;
        for (std::size_t i = 0; i < kNodeNameLen; i += 8)
            diff |= a.word(i) ^ b.word(i);
        return diff == 0;
    }
    // Byte order, as memcmp: the epoch collision rule depends on it.
    friend std::strong_ordering operator<=>(const NodeId& a, const NodeId& b) {
        int c = std::memcmp(a.bytes_.data(), b.bytes_.data(), kNodeNameLen);
        return c < 0 ? std::strong_ordering::less
                     : (c > 0 ? std::strong_ordering::greater : std::strong_ordering::equal);
    }

    // Bytes i..i+7 as one integer (host byte order: for equality and hashing only).
    std::uint64_t word(std::size_t i) const {
        std::uint64_t w = 0;
        std::memcpy(&w, bytes_.data() + i, sizeof w);
        return w;
    }

  private:
    std::array<char, kNodeNameLen> bytes_{};
};

// Node flag bits as they travel in headers and gossip entries (16 bits on the wire).
namespace node_flag {
inline constexpr std::uint16_t kMaster = 1u << 0;
inline constexpr std::uint16_t kSlave = 1u << 1;
inline constexpr std::uint16_t kPfail = 1u << 2;
inline constexpr std::uint16_t kFail = 1u << 3;
inline constexpr std::uint16_t kMyself = 1u << 4;
inline constexpr std::uint16_t kHandshake = 1u << 5;
inline constexpr std::uint16_t kNoAddr = 1u << 6;
inline constexpr std::uint16_t kMeet = 1u << 7;
inline constexpr std::uint16_t kMigrateTo = 1u << 8;
inline constexpr std::uint16_t kNoFailover = 1u << 9;
inline constexpr std::uint16_t kExtensionsSupported = 1u << 10;  // Redis 8 / Valkey 8, not 7.0
}  // namespace node_flag

// Bits of mflags[0] in the header.
namespace message_flag {
inline constexpr std::uint8_t kPaused = 1u << 0;
inline constexpr std::uint8_t kForceAck = 1u << 1;
inline constexpr std::uint8_t kExtData = 1u << 2;
}  // namespace message_flag

// The 16384-slot ownership bitmap: slot j is byte j/8, bit (j & 7).
class SlotBitmap {
  public:
    bool test(std::size_t slot) const { return (bytes_[slot >> 3] >> (slot & 7)) & 1u; }
    void set(std::size_t slot) { bytes_[slot >> 3] |= static_cast<std::uint8_t>(1u << (slot & 7)); }
    void clear(std::size_t slot) {
        bytes_[slot >> 3] &= static_cast<std::uint8_t>(~(1u << (slot & 7)));
    }
    void set_range(std::size_t first, std::size_t last) {
        for (std::size_t s = first; s <= last; ++s)
            set(s);
    }
    // Clears every slot that is set in `other`.
    void clear_all_of(const SlotBitmap& other) {
        for (std::size_t i = 0; i < kSlotBitmapBytes; ++i)
            bytes_[i] &= static_cast<std::uint8_t>(~other.bytes_[i]);
    }
    std::size_t count() const {
        std::size_t n = 0;
        for (std::size_t w = 0; w < kWords; ++w)
            n += static_cast<std::size_t>(std::popcount(word(w)));
        return n;
    }
    bool empty() const {
        for (std::size_t w = 0; w < kWords; ++w)
            if (word(w) != 0) return false;
        return true;
    }
    std::array<std::uint8_t, kSlotBitmapBytes>& bytes() { return bytes_; }
    const std::array<std::uint8_t, kSlotBitmapBytes>& bytes() const { return bytes_; }

    // Calls f(first, last) for each maximal run of set slots, in ascending order.
    // Works a 64-slot word at a time: a node's view holds one bitmap per node, mostly empty, and
    // loading a view walks all of them.
    template <typename F>
    void for_each_range(F&& f) const {
        std::size_t run_first = 0;
        bool in_run = false;
        for (std::size_t w = 0; w < kWords; ++w) {
            const std::uint64_t bits = word(w);
            // Inside a run, look for the first clear bit; outside, for the first set one.
            if (bits == (in_run ? ~std::uint64_t{0} : 0)) continue;
            std::size_t bit = 0;
            while (bit < 64) {
                const std::uint64_t rest = (in_run ? ~bits : bits) >> bit;
                if (rest == 0) break;
                bit += static_cast<std::size_t>(std::countr_zero(rest));
                if (in_run) {
                    f(run_first, w * 64 + bit - 1);
                } else {
                    run_first = w * 64 + bit;
                }
                in_run = !in_run;
            }
        }
        if (in_run) f(run_first, kSlotCount - 1);
    }

    friend bool operator==(const SlotBitmap&, const SlotBitmap&) = default;

  private:
    static constexpr std::size_t kWords = kSlotBitmapBytes / 8;
    static_assert(kSlotBitmapBytes % 8 == 0);

    // Slot 64w + i is bit i of word w, whatever the machine's byte order.
    std::uint64_t word(std::size_t w) const {
        std::uint64_t v;
        std::memcpy(&v, bytes_.data() + w * 8, sizeof v);
        if constexpr (std::endian::native == std::endian::big) v = __builtin_bswap64(v);
        return v;
    }

    std::array<std::uint8_t, kSlotBitmapBytes> bytes_{};
};

// A fixed-size, NUL-terminated text field of the wire (ip fields). Keeps the raw bytes so that a
// decoded frame re-encodes byte for byte, even where a sender left bytes after the terminator.
template <std::size_t N>
class FixedText {
  public:
    FixedText() = default;
    // Truncates to N-1 characters; the rest stays zero.
    explicit FixedText(std::string_view s) { assign(s); }

    void assign(std::string_view s) {
        bytes_.fill(0);
        std::memcpy(bytes_.data(), s.data(), std::min(s.size(), N - 1));
    }
    std::string_view view() const {
        const void* nul = std::memchr(bytes_.data(), 0, N);
        std::size_t len =
            nul ? static_cast<std::size_t>(static_cast<const char*>(nul) - bytes_.data()) : N;
        return {bytes_.data(), len};
    }
    // Decoding checks every gossip entry's ip field: eight bytes at a time, with the classic
    // test (w - 0x01..01) & ~w & 0x80..80, which is nonzero exactly when a byte of w is zero. A
    // library call per field, or a byte loop, cost several times more.
    bool terminated() const {
        if constexpr (N < 8) {
            for (char c : bytes_)
                if (c == 0) return true;
            return false;
        } else {
            constexpr std::uint64_t kOnes = 0x0101010101010101ull;
            constexpr std::uint64_t kTop = 0x8080808080808080ull;
            std::uint64_t found = 0;
            for (std::size_t i = 0; i < N; i += 8) {
                std::uint64_t w = 0;
                std::memcpy(&w, bytes_.data() + std::min(i, N - 8),
                            sizeof w);  // the last word overlaps
                found |= (w - kOnes) & ~w & kTop;
            }
            return found != 0;
        }
    }
    bool empty() const { return bytes_[0] == 0; }
    std::array<char, N>& raw() { return bytes_; }
    const std::array<char, N>& raw() const { return bytes_; }

    friend bool operator==(const FixedText&, const FixedText&) = default;

  private:
    std::array<char, N> bytes_{};
};

using IpText = FixedText<kIpFieldLen>;

}  // namespace gossipcluster

template <>
struct std::hash<gossipcluster::NodeId> {
    std::size_t operator()(const gossipcluster::NodeId& id) const noexcept {
        // Multiply-xorshift over five words: cheap, and well mixed for names that share long
        // prefixes. Only lookups use it; nothing iterates a hashed container of names.
        std::uint64_t h = 0x9e3779b97f4a7c15ull;
        for (std::size_t i = 0; i < gossipcluster::kNodeNameLen; i += 8) {
            h = (h ^ id.word(i)) * 0xff51afd7ed558ccdull;
            h ^= h >> 32;
        }
        return static_cast<std::size_t>(h);
    }
};
