// SlotBitmap: runs, counts and emptiness agree with a slot-by-slot reading of the same bits.
#include <catch2/catch.hpp>

#include <cstddef>
#include <utility>
#include <vector>

#include "gossipcluster/detail/prng.hpp"
#include "gossipcluster/types.hpp"

namespace unit_slot_bitmap_test {

using namespace gossipcluster;

namespace {

using Runs = std::vector<std::pair<std::size_t, std::size_t>>;

Runs runs_of(const SlotBitmap& bm) {
    Runs runs;
    bm.for_each_range([&](std::size_t first, std::size_t last) { runs.emplace_back(first, last); });
    return runs;
}

// The plain rule, one slot at a time.
Runs reference_runs(const SlotBitmap& bm) {
    Runs runs;
    for (std::size_t s = 0; s < kSlotCount; ++s) {
        if (!bm.test(s)) continue;
        std::size_t e = s;
        while (e + 1 < kSlotCount && bm.test(e + 1))
            ++e;
        runs.emplace_back(s, e);
        s = e;
    }
    return runs;
}

std::size_t reference_count(const SlotBitmap& bm) {
    std::size_t n = 0;
    for (std::size_t s = 0; s < kSlotCount; ++s)
        n += bm.test(s) ? 1 : 0;
    return n;
}

void check_against_reference(const SlotBitmap& bm) {
    const Runs expected = reference_runs(bm);
    CHECK(runs_of(bm) == expected);
    CHECK(bm.count() == reference_count(bm));
    CHECK(bm.empty() == expected.empty());
}

}  // namespace

TEST_CASE("[slots] runs of an empty and of a full bitmap", "[unit][slots]") {
    SlotBitmap bm;
    CHECK(runs_of(bm).empty());
    CHECK(bm.empty());
    CHECK(bm.count() == 0);
    bm.set_range(0, kSlotCount - 1);
    CHECK(runs_of(bm) == Runs{{0, kSlotCount - 1}});
    CHECK(bm.count() == kSlotCount);
    CHECK_FALSE(bm.empty());
}

TEST_CASE("[slots] runs that start or end at every position around word edges", "[unit][slots]") {
    // Bits 62..66 and 126..130 straddle the 64-slot words the scan works on.
    const std::vector<std::size_t> edges = {
        0, 1, 7, 8, 62, 63, 64, 65, 127, 128, 129, 8191, 8192, 16319, 16320, 16321, 16382, 16383};
    for (std::size_t first : edges) {
        for (std::size_t last : edges) {
            if (last < first) continue;
            SlotBitmap bm;
            bm.set_range(first, last);
            INFO("run " << first << ".." << last);
            CHECK(runs_of(bm) == Runs{{first, last}});
            check_against_reference(bm);
        }
    }
}

TEST_CASE("[slots] single slots and alternating bits are separate runs", "[unit][slots]") {
    SlotBitmap alternating;
    for (std::size_t s = 0; s < kSlotCount; s += 2)
        alternating.set(s);
    check_against_reference(alternating);
    CHECK(runs_of(alternating).size() == kSlotCount / 2);

    for (std::size_t s = 0; s < kSlotCount; s += 97) {
        SlotBitmap one;
        one.set(s);
        INFO("slot " << s);
        CHECK(runs_of(one) == Runs{{s, s}});
        CHECK(one.count() == 1);
    }
}

TEST_CASE("[slots] random bitmaps give the runs of a slot-by-slot reading", "[unit][slots]") {
    detail::Prng prng(20261206);
    for (int round = 0; round < 300; ++round) {
        SlotBitmap bm;
        // Runs of random lengths, from single slots to whole words and beyond.
        const std::size_t runs = prng.below(40);
        for (std::size_t r = 0; r < runs; ++r) {
            const std::size_t first = prng.below(kSlotCount);
            const std::size_t len = 1 + prng.below(round % 3 == 0 ? 4 : 300);
            bm.set_range(first, std::min(kSlotCount - 1, first + len - 1));
        }
        // And some holes punched into them.
        for (std::size_t h = prng.below(20); h > 0; --h)
            bm.clear(prng.below(kSlotCount));
        INFO("round " << round);
        check_against_reference(bm);
    }
}

TEST_CASE("[slots] clear_all_of clears exactly the slots set in the other bitmap",
          "[unit][slots]") {
    detail::Prng prng(20261207);
    for (int round = 0; round < 100; ++round) {
        SlotBitmap bm;
        SlotBitmap other;
        for (std::size_t s = 0; s < kSlotCount; ++s) {
            if (prng.below(3) == 0) bm.set(s);
            if (prng.below(4) == 0) other.set(s);
        }
        SlotBitmap result = bm;
        result.clear_all_of(other);
        INFO("round " << round);
        for (std::size_t s = 0; s < kSlotCount; ++s)
            REQUIRE(result.test(s) == (bm.test(s) && !other.test(s)));
    }
    SlotBitmap full;
    full.set_range(0, kSlotCount - 1);
    SlotBitmap copy = full;
    copy.clear_all_of(full);
    CHECK(copy.empty());
    copy = full;
    copy.clear_all_of(SlotBitmap{});
    CHECK(copy.count() == kSlotCount);
}

}  // namespace unit_slot_bitmap_test
