// ClusterState member definitions (failover), compiled once into the gossipcluster library.
#include "gossipcluster/detail/state_failover.hpp"
#include "gossipcluster/cluster_state.hpp"
