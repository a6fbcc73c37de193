// ClusterState member definitions (memory), compiled once into the gossipcluster library.
#include "gossipcluster/detail/state_memory.hpp"
#include "gossipcluster/cluster_state.hpp"
