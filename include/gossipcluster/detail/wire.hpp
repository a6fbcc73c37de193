// Big-endian field access for the cluster bus: a bounds-checked reader and a bounds-checked writer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

namespace gossipcluster::detail {

// Big-endian loads and stores at a position the caller has already checked to lie inside its
// buffer.
inline std::uint16_t load_be16(const std::uint8_t* p) {
    return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}
inline std::uint32_t load_be32(const std::uint8_t* p) {
    return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
           std::uint32_t{p[3]};
}

inline void store_be16(std::uint8_t* p, std::uint16_t v) {
    p[0] = static_cast<std::uint8_t>(v >> 8);
    p[1] = static_cast<std::uint8_t>(v);
}
inline void store_be32(std::uint8_t* p, std::uint32_t v) {
    for (int i = 0; i < 4; ++i)
        p[i] = static_cast<std::uint8_t>(v >> (24 - 8 * i));
}

// Reads fields at explicit offsets of a byte span. Every access is bounds-checked: a read past the
// end yields zeros and marks the reader failed, so a caller may read a run of fields and test ok()
// once. Fields are assembled byte by byte; nothing is reinterpreted from memory.
class WireReader {
  public:
    explicit WireReader(std::span<const std::uint8_t> bytes) : bytes_(bytes) {}

    std::size_t size() const { return bytes_.size(); }
    bool ok() const { return ok_; }
    bool has(std::size_t offset, std::size_t n) const {
        return offset <= bytes_.size() && n <= bytes_.size() - offset;
    }

    std::uint8_t u8(std::size_t offset) {
        if (!check(offset, 1)) return 0;
        return bytes_[offset];
    }
    std::uint16_t u16(std::size_t offset) {
        if (!check(offset, 2)) return 0;
        return static_cast<std::uint16_t>((bytes_[offset] << 8) | bytes_[offset + 1]);
    }
    std::uint32_t u32(std::size_t offset) {
        if (!check(offset, 4)) return 0;
        return (std::uint32_t{bytes_[offset]} << 24) | (std::uint32_t{bytes_[offset + 1]} << 16) |
               (std::uint32_t{bytes_[offset + 2]} << 8) | std::uint32_t{bytes_[offset + 3]};
    }
    std::uint64_t u64(std::size_t offset) {
        if (!check(offset, 8)) return 0;
        return (std::uint64_t{u32(offset)} << 32) | u32(offset + 4);
    }
    // A view of n bytes at offset; empty (and failed) when out of range.
    std::span<const std::uint8_t> bytes(std::size_t offset, std::size_t n) {
        if (!check(offset, n)) return {};
        return bytes_.subspan(offset, n);
    }
    // Copies n bytes at offset into a byte array dst (room for n); zero-fills on failure.
    template <typename Out>
    void copy(std::size_t offset, std::size_t n, Out* dst) {
        static_assert(sizeof(Out) == 1);
        if (!check(offset, n)) {
            std::memset(dst, 0, n);
            return;
        }
        if (n != 0) std::memcpy(dst, bytes_.data() + offset, n);
    }

  private:
    bool check(std::size_t offset, std::size_t n) {
        if (has(offset, n)) return true;
        ok_ = false;
        return false;
    }

    std::span<const std::uint8_t> bytes_;
    bool ok_ = true;
};

// Writes big-endian fields, most significant byte first, into a region sized beforehand (the
// encoder computes a frame's exact length first). Writing byte by byte into a growing vector cost
// a capacity check per byte; here each field is one bounds check and a few stores. A write that
// would overrun the region is dropped and marks the writer failed, so a size computation that
// disagrees with the encoder shows up as an error instead of a buffer overflow.
class WireWriter {
  public:
    explicit WireWriter(std::span<std::uint8_t> region)
        : p_(region.data()), end_(region.data() + region.size()) {}

    bool ok() const { return ok_; }
    std::size_t remaining() const { return static_cast<std::size_t>(end_ - p_); }

    void u8(std::uint8_t v) {
        if (std::uint8_t* at = take(1)) at[0] = v;
    }
    void u16(std::uint16_t v) {
        if (std::uint8_t* at = take(2)) {
            at[0] = static_cast<std::uint8_t>(v >> 8);
            at[1] = static_cast<std::uint8_t>(v);
        }
    }
    void u32(std::uint32_t v) {
        if (std::uint8_t* at = take(4))
            for (int i = 0; i < 4; ++i)
                at[i] = static_cast<std::uint8_t>(v >> (24 - 8 * i));
    }
    void u64(std::uint64_t v) {
        if (std::uint8_t* at = take(8))
            for (int i = 0; i < 8; ++i)
                at[i] = static_cast<std::uint8_t>(v >> (56 - 8 * i));
    }
    // Raw bytes (uint8_t or char) copied as they are.
    template <typename In>
    void bytes(const In* data, std::size_t n) {
        static_assert(sizeof(In) == 1);
        if (n == 0) return;
        if (std::uint8_t* at = take(n)) std::memcpy(at, data, n);
    }
    // The next n bytes, for a record the caller fills at fixed offsets; nullptr (and the writer
    // failed) when they would overrun the region.
    std::uint8_t* reserve(std::size_t n) { return take(n); }
    // A field whose length is known at compile time: the copy is inlined, not a library call.
    template <std::size_t N, typename In>
    void fixed_bytes(const In* data) {
        static_assert(sizeof(In) == 1 && N > 0);
        if (std::uint8_t* at = take(N)) std::memcpy(at, data, N);
    }
    void zeros(std::size_t n) {
        if (n == 0) return;
        if (std::uint8_t* at = take(n)) std::memset(at, 0, n);
    }

  private:
    std::uint8_t* take(std::size_t n) {
        if (n > remaining()) {
            ok_ = false;
            return nullptr;
        }
        std::uint8_t* at = p_;
        p_ += n;
        return at;
    }

    std::uint8_t* p_;
    std::uint8_t* end_;
    bool ok_ = true;
};

}  // namespace gossipcluster::detail
