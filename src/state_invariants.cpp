// ClusterState member definitions (invariants), compiled once into the gossipcluster library.
#include "gossipcluster/cluster_state.hpp"

// The definitions need the whole class first.
#include "gossipcluster/detail/state_invariants.hpp"
