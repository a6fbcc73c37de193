// How the memory estimates count heap bytes: behind a string, and per node of an ordered tree.
#pragma once

#include <cstddef>
#include <string>

namespace gossipcluster::detail {

// Heap bytes behind a string: none while it fits the small-string buffer.
inline std::size_t heap_bytes(const std::string& s) {
    return s.capacity() >= sizeof(std::string) ? s.capacity() + 1 : 0;
}

// A red-black tree node carries a colour and three pointers besides its value.
inline constexpr std::size_t kTreeNodeOverhead = 4 * sizeof(void*);

}  // namespace gossipcluster::detail
