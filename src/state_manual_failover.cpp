// ClusterState member definitions (manual failover), compiled once into the gossipcluster library.
#include "gossipcluster/detail/state_manual_failover.hpp"
#include "gossipcluster/cluster_state.hpp"
