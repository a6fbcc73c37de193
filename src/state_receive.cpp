// ClusterState member definitions (receive), compiled once into the gossipcluster library.
#include "gossipcluster/detail/state_receive.hpp"
#include "gossipcluster/cluster_state.hpp"
