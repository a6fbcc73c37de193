// ClusterState member definitions (failure), compiled once into the gossipcluster library.
#include "gossipcluster/detail/state_failure.hpp"
#include "gossipcluster/cluster_state.hpp"
