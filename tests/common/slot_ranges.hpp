// Test support shared by the test tiers: a slot bitmap written as inclusive ranges.
#pragma once

#include <cstddef>
#include <initializer_list>
#include <utility>

#include "gossipcluster/types.hpp"

namespace test_support {

// slot_ranges({{0, 99}, {500, 500}}): slots 0-99 and 500.
inline gossipcluster::SlotBitmap slot_ranges(
    std::initializer_list<std::pair<std::size_t, std::size_t>> ranges) {
    gossipcluster::SlotBitmap bits;
    for (auto [first, last] : ranges)
        bits.set_range(first, last);
    return bits;
}

}  // namespace test_support
