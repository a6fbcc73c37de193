// The core's only source of randomness: a seeded xoshiro256** with a portable bounded draw.
#pragma once

#include <array>
#include <cstdint>

namespace gossipcluster::detail {

__extension__ typedef unsigned __int128 Uint128;

// Standard library distributions differ between implementations, which would break replay of a
// simulation on another platform; every draw here is defined bit for bit.
class Prng {
  public:
    explicit Prng(std::uint64_t seed) {
        std::uint64_t x = seed;
        for (auto& word : s_)
            word = splitmix(x);
    }

    std::uint64_t next() {
        const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
        const std::uint64_t t = s_[1] << 17;
        s_[2] ^= s_[0];
        s_[3] ^= s_[1];
        s_[1] ^= s_[2];
        s_[0] ^= s_[3];
        s_[2] ^= t;
        s_[3] = rotl(s_[3], 45);
        return result;
    }

    // Uniform in [0, bound) without modulo bias (Lemire's multiply-and-reject); bound > 0.
    std::uint64_t below(std::uint64_t bound) {
        Uint128 m = static_cast<Uint128>(next()) * bound;
        auto low = static_cast<std::uint64_t>(m);
        if (low < bound) {
            const std::uint64_t threshold = (0 - bound) % bound;
            while (low < threshold) {
                m = static_cast<Uint128>(next()) * bound;
                low = static_cast<std::uint64_t>(m);
            }
        }
        return static_cast<std::uint64_t>(m >> 64);
    }

    // Uniform in [lo, hi], inclusive; lo <= hi. The span is computed in unsigned arithmetic, so
    // any pair of int64 values works.
    std::int64_t between(std::int64_t lo, std::int64_t hi) {
        const std::uint64_t span = static_cast<std::uint64_t>(hi) - static_cast<std::uint64_t>(lo);
        const std::uint64_t offset = span == UINT64_MAX ? next() : below(span + 1);
        return static_cast<std::int64_t>(static_cast<std::uint64_t>(lo) + offset);
    }

    // True with probability p (p in [0, 1]), resolved to 1/2^53.
    bool chance(double p) {
        return static_cast<double>(next() >> 11) * (1.0 / 9007199254740992.0) < p;
    }

  private:
    static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
    static std::uint64_t splitmix(std::uint64_t& x) {
        std::uint64_t z = (x += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
    }

    std::array<std::uint64_t, 4> s_{};
};

}  // namespace gossipcluster::detail
