// ClusterState member definitions (reset), compiled once into the gossipcluster library.
#include "gossipcluster/detail/state_reset.hpp"
#include "gossipcluster/cluster_state.hpp"
