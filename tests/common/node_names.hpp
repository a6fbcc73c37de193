// Test support shared by the test tiers: node names made of one repeated hex digit.
#pragma once

#include <string>

#include "gossipcluster/types.hpp"

namespace test_names {

// name('a'): forty 'a's, so that 'a' < 'b' reads as the name order the core sorts by.
inline gossipcluster::NodeId name(char c) {
    return *gossipcluster::NodeId::parse(std::string(40, c));
}

}  // namespace test_names
