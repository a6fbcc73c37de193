// detail::Prng: determinism per seed, bounded draws in range and uniform, pinned output values.
#include <catch2/catch.hpp>

#include <array>
#include <cstdint>
#include <limits>
#include <vector>

#include <gossipcluster/detail/prng.hpp>

namespace unit_prng_test {

using gossipcluster::detail::Prng;

namespace {

// A second, independent implementation written from the published descriptions of the two
// algorithms (Steele, Lea and Flood's SplitMix64; Blackman and Vigna's xoshiro256**), kept
// deliberately plain: if Prng is ever "optimised" into a different sequence, the two disagree.
struct ReferenceXoshiro {
    std::uint64_t s[4];

    static std::uint64_t splitmix64(std::uint64_t& state) {
        state += 0x9E3779B97F4A7C15ull;
        std::uint64_t z = state;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    static std::uint64_t rotate_left(std::uint64_t x, unsigned k) {
        return (x << k) | (x >> (64u - k));
    }

    // The seeding the xoshiro authors recommend: the state is four SplitMix64 outputs.
    explicit ReferenceXoshiro(std::uint64_t seed) {
        std::uint64_t sm = seed;
        for (auto& word : s)
            word = splitmix64(sm);
    }

    std::uint64_t next() {
        const std::uint64_t result = rotate_left(s[1] * 5, 7) * 9;
        const std::uint64_t t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = rotate_left(s[3], 45);
        return result;
    }
};

// Pearson's chi-square statistic of `draws` values of below(buckets) against a flat histogram.
double chi_square(Prng& prng, std::uint64_t buckets, std::size_t draws) {
    std::vector<std::size_t> seen(buckets, 0);
    for (std::size_t i = 0; i < draws; ++i)
        ++seen[prng.below(buckets)];
    const double expected = static_cast<double>(draws) / static_cast<double>(buckets);
    double chi2 = 0;
    for (std::size_t count : seen) {
        const double d = static_cast<double>(count) - expected;
        chi2 += d * d / expected;
    }
    return chi2;
}

}  // namespace

TEST_CASE("[prng] the reference SplitMix64 matches its published outputs", "[unit][prng]") {
    // Seed 1234567: the sequence published with the algorithm's Rosetta Code task, which checks
    // the reference used below before the reference is trusted to check Prng.
    std::uint64_t state = 1234567;
    const std::array<std::uint64_t, 5> published{6457827717110365317ull, 3203168211198807973ull,
                                                 9817491932198370423ull, 4593380528125082431ull,
                                                 16408922859458223821ull};
    for (std::uint64_t want : published)
        CHECK(ReferenceXoshiro::splitmix64(state) == want);
}

TEST_CASE("[prng] seed 1 produces the pinned first outputs", "[unit][prng]") {
    // These numbers pin the algorithm: a simulation replays from its seed on every platform and
    // compiler only while Prng stays xoshiro256** seeded by SplitMix64. They were computed once
    // and cross-checked with a separate implementation outside this code base (and against
    // ReferenceXoshiro here). Changing them breaks replay of every recorded seed.
    const std::array<std::uint64_t, 5> golden{12966619160104079557ull, 9600361134598540522ull,
                                              10590380919521690900ull, 7218738570589545383ull,
                                              12860671823995680371ull};
    Prng prng(1);
    ReferenceXoshiro ref(1);
    for (std::uint64_t want : golden) {
        const std::uint64_t got = prng.next();
        CHECK(got == want);
        CHECK(ref.next() == want);
    }
    // The bounded draw is pinned as well (multiply-and-keep-high-word, Lemire's method): the
    // first five below(1000) of seed 1 are the high words of golden[i] * 1000.
    Prng bounded(1);
    const std::array<std::uint64_t, 5> golden_below{702, 520, 574, 391, 697};
    for (std::uint64_t want : golden_below)
        CHECK(bounded.below(1000) == want);
}

TEST_CASE("[prng] Prng agrees with the reference for many seeds and draws", "[unit][prng]") {
    for (std::uint64_t seed : {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{42},
                               std::uint64_t{0xDEADBEEF}, ~std::uint64_t{0}}) {
        CAPTURE(seed);
        Prng prng(seed);
        ReferenceXoshiro ref(seed);
        bool same = true;
        for (int i = 0; i < 10000 && same; ++i)
            same = prng.next() == ref.next();
        CHECK(same);
    }
}

TEST_CASE("[prng] the same seed gives the same sequence, another seed another", "[unit][prng]") {
    Prng a(7), b(7), c(8);
    std::size_t equal_to_other_seed = 0;
    for (int i = 0; i < 1000; ++i) {
        const std::uint64_t x = a.next();
        REQUIRE(x == b.next());
        if (x == c.next()) ++equal_to_other_seed;
    }
    CHECK(equal_to_other_seed == 0);

    // Bounded draws interleaved with raw ones replay too: the core mixes them freely.
    Prng d(99), e(99);
    for (int i = 0; i < 1000; ++i) {
        REQUIRE(d.below(17) == e.below(17));
        REQUIRE(d.between(-5, 5) == e.between(-5, 5));
        REQUIRE(d.chance(0.3) == e.chance(0.3));
    }
}

TEST_CASE("[prng] below(n) is always less than n, for small and huge n", "[unit][prng]") {
    constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();
    Prng prng(3);
    for (std::uint64_t bound :
         {std::uint64_t{1}, std::uint64_t{2}, std::uint64_t{3}, std::uint64_t{7}, std::uint64_t{16},
          std::uint64_t{1000}, (std::uint64_t{1} << 32) + 1, (std::uint64_t{1} << 63) + 1, kMax - 1,
          kMax}) {
        CAPTURE(bound);
        bool in_range = true;
        for (int i = 0; i < 20000; ++i)
            in_range = in_range && prng.below(bound) < bound;
        CHECK(in_range);
    }
    // A bound of 1 has one answer.
    for (int i = 0; i < 100; ++i)
        REQUIRE(prng.below(1) == 0);
}

TEST_CASE("[prng] below(n) is roughly uniform (chi-square over fixed seeds)", "[unit][prng]") {
    // With fixed seeds the statistic is a fixed number, so this cannot flake; the bound is
    // generous on purpose (about the 99.99th percentile of chi-square) and still catches a
    // modulo-biased or stuck generator, whose statistic runs into the thousands.
    struct Bucketing {
        std::uint64_t buckets;
        double bound;  // chi-square with buckets - 1 degrees of freedom, p ~ 1e-4
    };
    for (const Bucketing& b : {Bucketing{2, 15.2}, Bucketing{7, 27.9}, Bucketing{10, 33.7},
                               Bucketing{16, 42.6}, Bucketing{100, 156.0}}) {
        for (std::uint64_t seed : {1u, 2u, 3u, 4u, 5u}) {
            CAPTURE(b.buckets, seed);
            Prng prng(seed);
            CHECK(chi_square(prng, b.buckets, 100000) < b.bound);
        }
    }
    // The statistic does notice bias: a draw that favours low values fails the same bound.
    Prng prng(1);
    std::vector<std::size_t> skewed(10, 0);
    for (int i = 0; i < 100000; ++i)
        ++skewed[prng.next() % 16 % 10];  // buckets 0-5 get two chances in sixteen, 6-9 one
    double chi2 = 0;
    for (std::size_t count : skewed) {
        const double d = static_cast<double>(count) - 10000.0;
        chi2 += d * d / 10000.0;
    }
    CHECK(chi2 > 33.7);
}

TEST_CASE("[prng] between(lo, hi) includes both bounds and nothing outside", "[unit][prng]") {
    Prng prng(11);
    bool saw_lo = false, saw_hi = false, inside = true;
    for (int i = 0; i < 10000; ++i) {
        const std::int64_t v = prng.between(-3, 3);
        saw_lo = saw_lo || v == -3;
        saw_hi = saw_hi || v == 3;
        inside = inside && v >= -3 && v <= 3;
    }
    CHECK(saw_lo);
    CHECK(saw_hi);
    CHECK(inside);

    for (int i = 0; i < 100; ++i)
        REQUIRE(prng.between(5, 5) == 5);

    // A range as wide as the simulator's delays, far from zero.
    bool wide_inside = true;
    for (int i = 0; i < 10000; ++i) {
        const std::int64_t v = prng.between(1'000'000'000'000, 1'000'000'000'500);
        wide_inside = wide_inside && v >= 1'000'000'000'000 && v <= 1'000'000'000'500;
    }
    CHECK(wide_inside);
}

TEST_CASE("[prng] chance(p) honours its extremes and its rate", "[unit][prng]") {
    Prng prng(5);
    std::size_t hits = 0;
    for (int i = 0; i < 10000; ++i) {
        REQUIRE_FALSE(prng.chance(0.0));
        REQUIRE(prng.chance(1.0));
        hits += prng.chance(0.25) ? 1 : 0;
    }
    // 2500 expected, standard deviation about 43: six sigma either side.
    CHECK(hits > 2240);
    CHECK(hits < 2760);
}

}  // namespace unit_prng_test
