// Majorities over the masters that serve slots: what FAIL and an election both need.
#pragma once

#include <cstddef>

namespace gossipcluster::detail {

// Redis's voters are the masters that serve at least one slot; both a FAIL verdict and an
// election need more than half of them.
inline constexpr std::size_t majority(std::size_t voters) {
    return voters / 2 + 1;
}

// Whether `reports` valid failure reports, plus our own suspicion when we are a voter ourselves,
// make a majority of `voters`.
inline constexpr bool reaches_fail_quorum(std::size_t reports, bool self_is_voter,
                                          std::size_t voters) {
    return reports + (self_is_voter ? 1 : 0) >= majority(voters);
}

}  // namespace gossipcluster::detail
